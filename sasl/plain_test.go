package sasl

import (
	"errors"
	"testing"

	gosasl "github.com/emersion/go-sasl"
)

// plainServer is go-sasl's PLAIN server knowing one account.
func plainServer(user, password string) gosasl.Server {
	return gosasl.NewPlainServer(func(identity, username, pass string) error {
		if username != user || pass != password || (identity != "" && identity != username) {
			return errors.New("invalid credentials")
		}
		return nil
	})
}

func TestPlain(t *testing.T) {
	for _, tc := range []struct {
		name, identity, password string
		ok                       bool
	}{
		{"right password", "", "secret", true},
		{"identity", "alice", "secret", true},
		{"other identity", "bob", "secret", false},
		{"wrong password", "", "wrong", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewPlainClient(tc.identity, "alice", tc.password)
			if err != nil {
				t.Fatal(err)
			}
			err = exchange(c, plainServer("alice", "secret"))
			if (err == nil) != tc.ok {
				t.Fatalf("exchange error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestPlainInitialResponse(t *testing.T) {
	c, err := NewPlainClient("admin", "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	mech, ir, err := c.Start()
	if err != nil || mech != Plain || string(ir) != "admin\x00alice\x00secret" {
		t.Fatalf("Start() = %q, %q, %v", mech, ir, err)
	}
	if _, err := c.Next([]byte("more?")); !errors.Is(err, ErrUnexpectedChallenge) {
		t.Fatalf("challenge error = %v, want ErrUnexpectedChallenge", err)
	}
}

func TestPlainRejectsNULInPassword(t *testing.T) {
	_, err := NewPlainClient("", "alice", "sec\x00ret")
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("error = %v, want ErrInvalidCredentials", err)
	}
}
