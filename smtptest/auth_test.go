package smtptest_test

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"

	gosasl "github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

// newAuthServer starts a server with one user, alice, whose password is
// "secret" and whose OAuth token is "good-token", offering mechs.
func newAuthServer(t *testing.T, sec smtptest.Security, mechs ...string) *smtptest.Server {
	t.Helper()
	srv := smtptest.NewUnstartedServer(sec)
	srv.Users = map[string]string{"alice": "secret"}
	srv.Tokens = map[string]string{"alice": "good-token"}
	srv.AuthMechanisms = mechs
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// dialTLS connects a go-smtp client to srv like dial, with a TLS
// configuration of the test's own.
func dialTLS(t *testing.T, srv *smtptest.Server, cfg *tls.Config) *smtp.Client {
	t.Helper()
	var c *smtp.Client
	var err error
	switch srv.Security {
	case smtptest.StartTLS:
		c, err = smtp.DialStartTLS(srv.Addr, cfg)
	case smtptest.ImplicitTLS:
		c, err = smtp.DialTLS(srv.Addr, cfg)
	default:
		t.Fatalf("dialTLS on a %s server", srv.Security)
	}
	if err != nil {
		t.Fatalf("connecting to %s server: %v", srv.Security, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tlsState returns the TLS connection state of c. After STARTTLS, go-smtp
// does the TLS handshake only with the next command, so it sends a NOOP
// first; without a complete handshake there is no channel binding.
func tlsState(t *testing.T, c *smtp.Client) *tls.ConnectionState {
	t.Helper()
	if err := c.Noop(); err != nil {
		t.Fatalf("NOOP: %v", err)
	}
	state, ok := c.TLSConnectionState()
	if !ok || !state.HandshakeComplete {
		t.Fatal("the connection has no complete TLS handshake")
	}
	return &state
}

// authenticate runs client over c and checks that the client, if it
// implements sasl.Finisher, agrees that the exchange succeeded.
func authenticate(t *testing.T, c *smtp.Client, client gosasl.Client) {
	t.Helper()
	if err := c.Auth(client); err != nil {
		t.Fatalf("Auth with %v: %v", client, err)
	}
	if f, ok := client.(sasl.Finisher); ok {
		if err := f.Finish(); err != nil {
			t.Fatalf("Finish after success: %v", err)
		}
	}
}

// sendAndCheck sends a message over c and checks that srv recorded it as
// sent by user with mech.
func sendAndCheck(t *testing.T, srv *smtptest.Server, c *smtp.Client, user, mech string) {
	t.Helper()
	if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n")); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) == 0 {
		t.Fatal("no message recorded")
	}
	if m := msgs[len(msgs)-1]; m.User != user || m.Mechanism != mech {
		t.Fatalf("message recorded with user %q and mechanism %q, want %q and %q", m.User, m.Mechanism, user, mech)
	}
}

// wantCode checks that err is an SMTP reply with the given code.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var smtpErr *smtp.SMTPError
	if !errors.As(err, &smtpErr) || smtpErr.Code != code {
		t.Fatalf("error = %v, want a %d reply", err, code)
	}
}

// must returns client, and panics on err: the tests build only clients
// that should build.
func must(client gosasl.Client, err error) gosasl.Client {
	if err != nil {
		panic(err)
	}
	return client
}

func TestAuthDefaultMechanisms(t *testing.T) {
	for _, tc := range []struct {
		name          string
		users, tokens map[string]string
		want          []string
	}{
		{"users", map[string]string{"alice": "secret"}, nil, []string{"PLAIN", "LOGIN"}},
		{"tokens", nil, map[string]string{"alice": "tok"}, []string{"XOAUTH2", "OAUTHBEARER"}},
		{"both", map[string]string{"alice": "secret"}, map[string]string{"alice": "tok"}, []string{"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
			srv.Users, srv.Tokens = tc.users, tc.tokens
			srv.Start()
			defer srv.Close()
			c := dial(t, srv)
			if err := c.Hello("client.example"); err != nil {
				t.Fatal(err)
			}
			_, auth := c.Extension("AUTH")
			if got := strings.Fields(auth); !slices.Equal(got, tc.want) {
				t.Fatalf("AUTH %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAuthUnknownMechanismPanics(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	defer srv.Close()
	srv.AuthMechanisms = []string{"PLAIN", "DIGEST-MD5"}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "DIGEST-MD5") {
			t.Fatalf("Start did not panic naming DIGEST-MD5: %v", r)
		}
	}()
	srv.Start()
}

func TestAuthMechanismNotOffered(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, "PLAIN")
	c := dial(t, srv)
	wantCode(t, c.Auth(must(sasl.NewLoginClient("alice", "secret"))), 504)
}

func TestAuthPasswordMechanisms(t *testing.T) {
	clients := map[string]func(user, password string) (gosasl.Client, error){
		"PLAIN":    func(u, p string) (gosasl.Client, error) { return sasl.NewPlainClient("", u, p) },
		"LOGIN":    sasl.NewLoginClient,
		"CRAM-MD5": sasl.NewCRAMMD5Client,
	}
	srv := newAuthServer(t, smtptest.StartTLS, "PLAIN", "LOGIN", "CRAM-MD5")
	for mech, newClient := range clients {
		t.Run(mech, func(t *testing.T) {
			c := dial(t, srv)
			authenticate(t, c, must(newClient("alice", "secret")))
			sendAndCheck(t, srv, c, "alice", mech)

			wantCode(t, dial(t, srv).Auth(must(newClient("alice", "wrong"))), 535)
			wantCode(t, dial(t, srv).Auth(must(newClient("bob", "secret"))), 535)
		})
	}
}

// TestAuthLoginWithInitialResponse checks that the server also takes the
// user name as an initial response, as go-sasl's LOGIN client sends it.
func TestAuthLoginWithInitialResponse(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, "LOGIN")
	c := dial(t, srv)
	authenticate(t, c, gosasl.NewLoginClient("alice", "secret"))
	sendAndCheck(t, srv, c, "alice", "LOGIN")
}

func TestAuthPlainRefusesOtherIdentity(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, "PLAIN")
	wantCode(t, dial(t, srv).Auth(must(sasl.NewPlainClient("root", "alice", "secret"))), 535)
}

func TestAuthRequiredBeforeMail(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, "ANONYMOUS")
	c := dial(t, srv)
	wantCode(t, c.Mail("a@example.com", nil), 502)
}

func TestAuthAnonymous(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, "ANONYMOUS")
	c := dial(t, srv)
	authenticate(t, c, must(sasl.NewAnonymousClient("tester@example.com")))
	sendAndCheck(t, srv, c, "", "ANONYMOUS")
}

func TestAuthWithoutTLSOffersNoPlusNorExternal(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.Users = map[string]string{"alice": "secret"}
	srv.AuthMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "EXTERNAL"}
	srv.Config.AllowInsecureAuth = true
	srv.Start()
	defer srv.Close()

	c := dial(t, srv)
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if _, auth := c.Extension("AUTH"); auth != "SCRAM-SHA-256" {
		t.Fatalf("AUTH %q over plaintext, want only SCRAM-SHA-256", auth)
	}
	// A client that asks anyway for what is not offered is refused.
	state := tls.ConnectionState{}
	if _, err := sasl.NewSCRAMClient(sasl.SCRAMSHA256Plus, "alice", "secret", "", &state); err == nil {
		t.Fatal("SCRAM-PLUS client made without a TLS connection")
	}
	wantCode(t, c.Auth(must(sasl.NewExternalClient(""))), 504)
	authenticate(t, c, must(sasl.NewSCRAMClient(sasl.SCRAMSHA256, "alice", "secret", "", nil)))
	sendAndCheck(t, srv, c, "alice", "SCRAM-SHA-256")
}
