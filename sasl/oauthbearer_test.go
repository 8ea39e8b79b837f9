package sasl

import (
	"errors"
	"strings"
	"testing"

	gosasl "github.com/emersion/go-sasl"
)

// oauthBearerServer is go-sasl's OAUTHBEARER server accepting one token.
func oauthBearerServer(user, token string, seen *gosasl.OAuthBearerOptions) gosasl.Server {
	return gosasl.NewOAuthBearerServer(func(opts gosasl.OAuthBearerOptions) *gosasl.OAuthBearerError {
		*seen = opts
		if opts.Username != user || opts.Token != token {
			return &gosasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer", Scope: "mail"}
		}
		return nil
	})
}

func TestOAUTHBEARER(t *testing.T) {
	c, err := NewOAUTHBEARERClient("alice@example.com", "tok", "mail.example.com", 587)
	if err != nil {
		t.Fatal(err)
	}
	var seen gosasl.OAuthBearerOptions
	if err := exchange(c, oauthBearerServer("alice@example.com", "tok", &seen)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if seen.Host != "mail.example.com" || seen.Port != 587 {
		t.Errorf("server saw host %q port %d", seen.Host, seen.Port)
	}
	if err := finish(c); err != nil {
		t.Fatalf("Finish after success = %v", err)
	}
}

func TestOAUTHBEARERWithoutHostAndPort(t *testing.T) {
	c, err := NewOAUTHBEARERClient("alice@example.com", "tok", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, ir, _ := c.Start()
	if want := "n,a=alice@example.com,\x01auth=Bearer tok\x01\x01"; string(ir) != want {
		t.Fatalf("initial response = %q, want %q", ir, want)
	}
	var seen gosasl.OAuthBearerOptions
	if err := exchange(c, oauthBearerServer("alice@example.com", "tok", &seen)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
}

func TestOAUTHBEAREREscapesTheName(t *testing.T) {
	c, err := NewOAUTHBEARERClient("a=b,c", "tok", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, ir, _ := c.Start()
	if !strings.HasPrefix(string(ir), "n,a=a=3Db=2Cc,\x01") {
		t.Fatalf("initial response = %q, want the name escaped as a=3Db=2Cc", ir)
	}
}

func TestOAUTHBEARERWrongToken(t *testing.T) {
	const token = "expired-token"
	c, err := NewOAUTHBEARERClient("alice@example.com", token, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var seen gosasl.OAuthBearerOptions
	err = exchange(c, oauthBearerServer("alice@example.com", "fresh", &seen))
	// go-sasl's server ends with its own error once the client has sent
	// the 0x01 byte; any other answer would be "invalid response".
	var serverErr *gosasl.OAuthBearerError
	if !errors.As(err, &serverErr) {
		t.Fatalf("exchange error = %v, want the server's refusal after the 0x01 response", err)
	}
	var oauthErr *OAuthError
	if err := finish(c); !errors.As(err, &oauthErr) || oauthErr.Status != "invalid_token" || oauthErr.Scope != "mail" {
		t.Fatalf("Finish = %v, want an *OAuthError with status invalid_token and scope mail", err)
	}
	if strings.Contains(oauthErr.Error(), token) {
		t.Errorf("error %q shows the token", oauthErr.Error())
	}
}

func TestOAUTHBEARERRejectsBadPort(t *testing.T) {
	for _, port := range []int{-1, 65536} {
		if _, err := NewOAUTHBEARERClient("alice", "tok", "", port); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("port %d: error = %v, want ErrInvalidCredentials", port, err)
		}
	}
}
