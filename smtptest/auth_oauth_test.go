package smtptest_test

import (
	"errors"
	"strings"
	"testing"

	gosasl "github.com/emersion/go-sasl"

	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

func TestAuthOAuth(t *testing.T) {
	clients := map[string]func(user, token string) (gosasl.Client, error){
		"XOAUTH2": sasl.NewXOAUTH2Client,
		"OAUTHBEARER": func(u, tok string) (gosasl.Client, error) {
			return sasl.NewOAUTHBEARERClient(u, tok, "localhost", 25)
		},
	}
	for _, sec := range []smtptest.Security{smtptest.StartTLS, smtptest.ImplicitTLS} {
		srv := newAuthServer(t, sec)
		for mech, newClient := range clients {
			t.Run(sec.String()+"/"+mech, func(t *testing.T) {
				c := dial(t, srv)
				authenticate(t, c, must(newClient("alice", "good-token")))
				sendAndCheck(t, srv, c, "alice", mech)
			})
			t.Run(sec.String()+"/"+mech+"/wrong token", func(t *testing.T) {
				client := must(newClient("alice", "stale-token"))
				err := dial(t, srv).Auth(client)
				// 535 comes only after the client answered the JSON
				// challenge as its mechanism requires; a wrong answer
				// would get 501.
				wantCode(t, err, 535)
				var oauthErr *sasl.OAuthError
				if !errors.As(client.(sasl.Finisher).Finish(), &oauthErr) {
					t.Fatalf("Finish did not return the server's refusal")
				}
				if oauthErr.Status != "401" || oauthErr.Scope != "smtptest" || oauthErr.Schemes != "Bearer" {
					t.Fatalf("refusal = %+v", oauthErr)
				}
				if strings.Contains(oauthErr.Error(), "stale-token") || strings.Contains(err.Error(), "stale-token") {
					t.Fatal("an error shows the token")
				}
			})
			t.Run(sec.String()+"/"+mech+"/token of another user", func(t *testing.T) {
				wantCode(t, dial(t, srv).Auth(must(newClient("bob", "good-token"))), 535)
			})
		}
	}
}

// TestAuthOAuthBearerFindsTheUserByToken checks that an OAUTHBEARER client
// that leaves out the authorization identity is known by its token.
func TestAuthOAuthBearerFindsTheUserByToken(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS)
	c := dial(t, srv)
	authenticate(t, c, gosasl.NewOAuthBearerClient(&gosasl.OAuthBearerOptions{Token: "good-token"}))
	sendAndCheck(t, srv, c, "alice", "OAUTHBEARER")
}
