package sasl

import (
	"errors"
	"strings"
	"testing"

	gosasl "github.com/emersion/go-sasl"
)

func TestAnonymous(t *testing.T) {
	c, err := NewAnonymousClient("sirhc@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var trace string
	server := gosasl.NewAnonymousServer(func(tr string) error {
		trace = tr
		return nil
	})
	if err := exchange(c, server); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if trace != "sirhc@example.com" {
		t.Fatalf("server saw trace %q", trace)
	}
}

func TestAnonymousTraceLimits(t *testing.T) {
	if _, err := NewAnonymousClient(""); err != nil {
		t.Fatalf("empty trace: %v", err)
	}
	if _, err := NewAnonymousClient(strings.Repeat("é", 255)); err != nil {
		t.Fatalf("255 characters: %v", err)
	}
	for _, trace := range []string{strings.Repeat("a", 256), "a\r\nb", "\xff"} {
		if _, err := NewAnonymousClient(trace); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("trace %q: error = %v, want ErrInvalidCredentials", trace, err)
		}
	}
}
