package smtpkit_test

import (
	"errors"
	"testing"

	"github.com/smtpkit/smtpkit"
)

// TestConnectErrorKinds: a name that does not resolve and a refused
// connection are told apart with errors.Is, and each cause keeps its words.
func TestConnectErrorKinds(t *testing.T) {
	tests := []struct {
		addr string
		want error
	}{
		{"no..such..host:25", smtpkit.ErrNameNotResolved},
		{"127.0.0.1:1", smtpkit.ErrConnectionRefused},
	}
	kinds := []error{smtpkit.ErrNameNotResolved, smtpkit.ErrConnectionRefused, smtpkit.ErrConnectTimeout}
	for _, tt := range tests {
		_, err := smtpkit.Dial(testContext(t), tt.addr, &smtpkit.Options{Security: smtpkit.SecurityNone})
		var e *smtpkit.Error
		if !errors.As(err, &e) || e.Phase != smtpkit.PhaseConnect {
			t.Fatalf("%s: %v, want an error of phase connect", tt.addr, err)
		}
		for _, k := range kinds {
			if got := errors.Is(err, k); got != (k == tt.want) {
				t.Errorf("%s: errors.Is(%v, %q) = %v", tt.addr, err, k, got)
			}
		}
	}
	// Only connect errors are of these kinds.
	e := &smtpkit.Error{Phase: smtpkit.PhaseGreeting, Err: errors.New("x")}
	if errors.Is(e, smtpkit.ErrConnectionRefused) || errors.Is(e, smtpkit.ErrNameNotResolved) {
		t.Error("a greeting error matched a connect error kind")
	}
}
