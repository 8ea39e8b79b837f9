package outbox

import (
	"io"
	"sync/atomic"
)

// attemptReader is a stored message as one attempt reads it. It is no
// io.Seeker, so the Pool never sends it again on its own: resending is the
// outbox's call, made from what was read. A message not read at all when
// its connection broke went nowhere and may go again at once; any other
// failure waits for the backoff. Whether the server may have taken the
// message (RFC 1047: the end of the data left the client and its reply
// was lost) the library reports as smtpkit.ErrUnconfirmed (see judge).
type attemptReader struct {
	r    io.Reader
	read atomic.Int64
	eof  atomic.Bool
}

func (a *attemptReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	a.read.Add(int64(n))
	if err == io.EOF {
		a.eof.Store(true)
	}
	return n, err
}

// untouched reports whether not a byte of the message was read: the
// server cannot have any of it.
func (a *attemptReader) untouched() bool { return a.read.Load() == 0 && !a.eof.Load() }
