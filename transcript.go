package smtpkit

import (
	"fmt"
	"io"
	"sync"
)

// transcript writes the protocol dialogue to Options.Transcript, one whole
// line at a time, so the lines of connections racing in Auto never mix.
type transcript struct {
	mu sync.Mutex
	w  io.Writer // nil: no transcript
}

// wireTrace returns the hook the wire layer calls for every line.
func (t *transcript) wireTrace() func(sent bool, line string) {
	if t.w == nil {
		return nil
	}
	return func(sent bool, line string) {
		if sent {
			t.printf("C: %s", line)
		} else {
			t.printf("S: %s", line)
		}
	}
}

// printf writes one line; "* " lines note events, "C: " and "S: " lines
// what the client and the server sent.
func (t *transcript) printf(format string, args ...any) {
	if t.w == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, format+"\n", args...)
}

// event writes a "* " line.
func (t *transcript) event(format string, args ...any) {
	t.printf("* "+format, args...)
}
