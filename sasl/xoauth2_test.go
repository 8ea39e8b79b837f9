package sasl

import (
	"errors"
	"strings"
	"testing"
)

// xoauth2Server checks an XOAUTH2 initial response and, on a wrong token,
// sends Google's JSON error challenge and expects an empty response.
type xoauth2Server struct {
	user, token string
	refused     bool
}

const googleRefusal = `{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`

func (s *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	if s.refused {
		if len(response) != 0 {
			return nil, false, errors.New("XOAUTH2 client answered the error challenge with a non-empty response")
		}
		return nil, false, errors.New("authentication failed")
	}
	if response == nil {
		return nil, false, errors.New("XOAUTH2 client sent no initial response")
	}
	fields, ok := strings.CutSuffix(string(response), "\x01\x01")
	user, auth, ok2 := strings.Cut(fields, "\x01")
	if !ok || !ok2 || !strings.HasPrefix(user, "user=") || !strings.HasPrefix(auth, "auth=Bearer ") {
		return nil, false, errors.New("malformed XOAUTH2 response")
	}
	if user[len("user="):] == s.user && auth[len("auth=Bearer "):] == s.token {
		return nil, true, nil
	}
	s.refused = true
	return []byte(googleRefusal), false, nil
}

func TestXOAUTH2(t *testing.T) {
	c, err := NewXOAUTH2Client("alice@example.com", "ya29.token")
	if err != nil {
		t.Fatal(err)
	}
	_, ir, _ := c.Start()
	if want := "user=alice@example.com\x01auth=Bearer ya29.token\x01\x01"; string(ir) != want {
		t.Fatalf("initial response = %q, want %q", ir, want)
	}
	if err := exchange(c, &xoauth2Server{user: "alice@example.com", token: "ya29.token"}); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if err := finish(c); err != nil {
		t.Fatalf("Finish after success = %v", err)
	}
}

func TestXOAUTH2WrongToken(t *testing.T) {
	const token = "ya29.expired-token"
	c, err := NewXOAUTH2Client("alice@example.com", token)
	if err != nil {
		t.Fatal(err)
	}
	// The server fails the exchange only after the client's empty response.
	err = exchange(c, &xoauth2Server{user: "alice@example.com", token: "ya29.fresh"})
	if err == nil || !strings.Contains(err.Error(), "server: authentication failed") {
		t.Fatalf("exchange error = %v, want the server's failure after the empty response", err)
	}
	var oauthErr *OAuthError
	if err := finish(c); !errors.As(err, &oauthErr) {
		t.Fatalf("Finish = %v, want an *OAuthError", err)
	}
	if oauthErr.Status != "401" || oauthErr.Scope != "https://mail.google.com/" || oauthErr.Schemes != "Bearer" || oauthErr.Mechanism != XOAUTH2 {
		t.Fatalf("OAuthError = %+v", oauthErr)
	}
	msg := oauthErr.Error()
	if !strings.Contains(msg, "401") || !strings.Contains(msg, "https://mail.google.com/") {
		t.Errorf("error %q does not show the status and scope", msg)
	}
	if strings.Contains(msg, token) {
		t.Errorf("error %q shows the token", msg)
	}
	// A server that goes on after its refusal gets an error.
	if _, err := c.Next([]byte(googleRefusal)); !errors.Is(err, ErrUnexpectedChallenge) {
		t.Fatalf("challenge after the refusal: error = %v, want ErrUnexpectedChallenge", err)
	}
}

func TestXOAUTH2MalformedChallenge(t *testing.T) {
	c, err := NewXOAUTH2Client("alice@example.com", "ya29.token")
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	if _, err := c.Next([]byte("not json")); !errors.Is(err, ErrMalformedChallenge) {
		t.Fatalf("error = %v, want ErrMalformedChallenge", err)
	}
}

func TestOAuthErrorAcceptsNumbers(t *testing.T) {
	e, err := parseOAuthError(XOAUTH2, []byte(`{"status":401,"scope":"x"}`))
	if err != nil || e.Status != "401" || e.Scope != "x" {
		t.Fatalf("parseOAuthError = %+v, %v", e, err)
	}
}
