package sasl

import (
	"errors"
	"fmt"
	"testing"
)

// loginServer is a LOGIN server that asks for the username, then the
// password, and checks both.
type loginServer struct {
	user, password string
	step           int
	got            string
}

func (s *loginServer) Next(response []byte) ([]byte, bool, error) {
	s.step++
	switch s.step {
	case 1:
		if response != nil {
			return nil, false, errors.New("LOGIN client sent an initial response")
		}
		return []byte("Username:"), false, nil
	case 2:
		s.got = string(response)
		return []byte("Password:"), false, nil
	case 3:
		if s.got != s.user || string(response) != s.password {
			return nil, false, errors.New("invalid credentials")
		}
		return nil, true, nil
	}
	return nil, false, fmt.Errorf("unexpected response %d", s.step)
}

func TestLogin(t *testing.T) {
	for _, tc := range []struct {
		name, user, password string
		ok                   bool
	}{
		{"right password", "alice", "secret", true},
		{"wrong password", "alice", "wrong", false},
		{"unknown user", "bob", "secret", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewLoginClient(tc.user, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			err = exchange(c, &loginServer{user: "alice", password: "secret"})
			if (err == nil) != tc.ok {
				t.Fatalf("exchange error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestLoginAnswersInOrderWhateverTheText(t *testing.T) {
	c, err := NewLoginClient("alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if mech, ir, err := c.Start(); mech != Login || ir != nil || err != nil {
		t.Fatalf("Start() = %q, %q, %v; want LOGIN without an initial response", mech, ir, err)
	}
	// A server that sends its prompts the other way round, or in another
	// language, still gets the username first.
	if r, err := c.Next([]byte("Password:")); err != nil || string(r) != "alice" {
		t.Fatalf("first answer = %q, %v; want the username", r, err)
	}
	if r, err := c.Next([]byte("Benutzername:")); err != nil || string(r) != "secret" {
		t.Fatalf("second answer = %q, %v; want the password", r, err)
	}
	if _, err := c.Next([]byte("Password:")); !errors.Is(err, ErrUnexpectedChallenge) {
		t.Fatalf("third challenge error = %v, want ErrUnexpectedChallenge", err)
	}
}
