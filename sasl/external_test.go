package sasl

import (
	"errors"
	"testing"

	gosasl "github.com/emersion/go-sasl"
)

func TestExternal(t *testing.T) {
	for _, identity := range []string{"", "alice"} {
		c, err := NewExternalClient(identity)
		if err != nil {
			t.Fatal(err)
		}
		var got *string
		server := gosasl.NewExternalServer(func(id string) error {
			got = &id
			return nil
		})
		if err := exchange(c, server); err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if got == nil || *got != identity {
			t.Fatalf("server saw identity %v, want %q", got, identity)
		}
	}
}

func TestExternalAndAnonymousRefuseChallenges(t *testing.T) {
	ext, _ := NewExternalClient("")
	anon, _ := NewAnonymousClient("")
	for _, c := range []gosasl.Client{ext, anon} {
		if _, err := c.Next([]byte("?")); !errors.Is(err, ErrUnexpectedChallenge) {
			t.Errorf("%v: challenge error = %v, want ErrUnexpectedChallenge", c, err)
		}
	}
}

func TestExternalRejectsControlCharacters(t *testing.T) {
	if _, err := NewExternalClient("alice\x00root"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("error = %v, want ErrInvalidCredentials", err)
	}
}
