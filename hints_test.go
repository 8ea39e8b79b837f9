package smtpkit_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// hintsOf returns the hints of err, an *smtpkit.Error.
func hintsOf(t *testing.T, err error) []smtpkit.Hint {
	t.Helper()
	var e *smtpkit.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *smtpkit.Error", err, err)
	}
	return e.Hints
}

// flagWords words a hint as a command line might.
func flagWords(h smtpkit.Hint) string {
	return fmt.Sprintf("--%s=%v", strings.ToLower(strings.ReplaceAll(h.Field, ".", "-")), h.Value)
}

// TestHintsAreData: an error that suggests a setting says which setting
// and value, Error words it as Go, and Describe in the caller's words. At
// dcaafbe the suggestions were prose inside the messages, and Error had no
// Hints.
func TestHintsAreData(t *testing.T) {
	t.Run("STARTTLS not offered", func(t *testing.T) {
		srv := smtptest.NewServer(smtptest.Plain)
		defer srv.Close()
		_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityStartTLS})
		if !errors.Is(err, smtpkit.ErrTLSNotOffered) {
			t.Fatalf("err = %v, want ErrTLSNotOffered", err)
		}
		hints := hintsOf(t, err)
		for _, want := range []smtpkit.Hint{
			{Field: "Security", Value: smtpkit.SecurityImplicitTLS},
			{Field: "Security", Value: smtpkit.SecurityStartTLSIfOffered},
		} {
			if !slices.Contains(hints, want) {
				t.Errorf("Hints = %v, want %v among them", hints, want)
			}
		}
		msg := err.Error()
		for _, want := range []string{"Options.Security = smtpkit.SecurityImplicitTLS", "Options.Security = smtpkit.SecurityStartTLSIfOffered"} {
			if !strings.Contains(msg, want) {
				t.Errorf("Error() = %q, want it to hold %q", msg, want)
			}
		}
		var e *smtpkit.Error
		errors.As(err, &e)
		custom := e.Describe(flagWords)
		if !strings.Contains(custom, "--security=implicit-tls") || !strings.Contains(custom, "--security=starttls-if-offered") {
			t.Errorf("Describe = %q, want the hints in the caller's words", custom)
		}
		if strings.Contains(custom, "Options.") || strings.Contains(custom, "smtpkit.Security") {
			t.Errorf("Describe = %q still words hints as Go", custom)
		}
	})
	t.Run("greeting timeout against implicit TLS", func(t *testing.T) {
		srv := smtptest.NewServer(smtptest.ImplicitTLS)
		defer srv.Close()
		_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
			Security: smtpkit.SecurityStartTLS, GreetingTimeout: 200 * time.Millisecond})
		if !errors.Is(err, smtpkit.ErrGreetingTimeout) {
			t.Fatalf("err = %v, want ErrGreetingTimeout", err)
		}
		want := smtpkit.Hint{Field: "Security", Value: smtpkit.SecurityImplicitTLS}
		if hints := hintsOf(t, err); !slices.Contains(hints, want) {
			t.Errorf("Hints = %v, want %v among them", hints, want)
		}
	})
	t.Run("cleartext login refused", func(t *testing.T) {
		srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
			if greetAndEHLO(c, "AUTH PLAIN LOGIN") {
				c.WaitClose()
			}
		})
		defer srv.Close()
		_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
			Security: smtpkit.SecurityNone, Auth: &smtpkit.Auth{Username: "tim", Password: secretPassword}})
		if !errors.Is(err, smtpkit.ErrCleartextAuth) {
			t.Fatalf("err = %v, want ErrCleartextAuth", err)
		}
		want := smtpkit.Hint{Field: "Auth.AllowCleartext", Value: true}
		if hints := hintsOf(t, err); !slices.Contains(hints, want) {
			t.Errorf("Hints = %v, want %v among them", hints, want)
		}
		if msg := err.Error(); !strings.Contains(msg, "Options.Auth.AllowCleartext = true") {
			t.Errorf("Error() = %q, want it to name Options.Auth.AllowCleartext = true", msg)
		}
		checkNoSecret(t, "Error()", err.Error())
	})
}
