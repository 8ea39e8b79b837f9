package outbox

import (
	"fmt"
	"io"
	"testing"

	"github.com/smtpkit/smtpkit"
)

// TestJudgeDoubt: only a lost reply to an end of data that left the client
// (smtpkit.ErrUnconfirmed) puts the attempt in doubt; a connection that
// broke before then, or a refusal, does not.
func TestJudgeDoubt(t *testing.T) {
	accepted := &smtpkit.Result{Recipients: []smtpkit.RecipientResult{{Address: "a@example.org", Reply: smtpkit.Reply{Code: 250}}}}
	broken := func(err error) error { return &smtpkit.Error{Phase: smtpkit.PhaseData, Err: err} }
	for _, tt := range []struct {
		name      string
		err       error
		wantDoubt bool
		want      Status
	}{
		{"reply to the end of data lost", broken(fmt.Errorf("%w: %w", smtpkit.ErrUnconfirmed, io.ErrUnexpectedEOF)), true, Pending},
		{"broken before the end of data left", broken(io.ErrUnexpectedEOF), false, Pending},
		{"refused at the end of data", &smtpkit.Error{Phase: smtpkit.PhaseData, Code: 554}, false, Failed},
		{"deferred at the end of data", &smtpkit.Error{Phase: smtpkit.PhaseData, Code: 451}, false, Pending},
	} {
		out, doubt := judge(1, accepted, tt.err)
		if doubt != tt.wantDoubt || out[0].status != tt.want {
			t.Errorf("%s: status %v, in doubt %v; want %v, %v", tt.name, out[0].status, doubt, tt.want, tt.wantDoubt)
		}
	}
}
