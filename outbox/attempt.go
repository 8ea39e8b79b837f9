package outbox

import (
	"io"
	"sync/atomic"
)

// attemptReader is a stored message as one attempt reads it. It is no
// io.Seeker, so the Pool never sends it twice on its own: it cannot tell a
// transaction that never reached the server from one whose reply was lost
// (in a pipelined batch, a connection reset loses the replies not yet
// read), and the second is the outbox's call.
//
// What was read tells the two apart instead. The end of the data (the
// final dot, or BDAT LAST) can only be written once the message was read
// to its end: until then the server cannot have taken it. A message not
// read at all went nowhere and may go again at once; one read to its end
// and left without a reply may have been taken (RFC 1047), and waits for
// the backoff, counted in doubt.
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

// complete reports whether the message was read to its end, so that the
// server may have it whole.
func (a *attemptReader) complete() bool { return a.eof.Load() }
