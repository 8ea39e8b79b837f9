package smtpkit_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// ackWatch is a connection that reports when the client reaches for its
// socket's options (SyscallConn().Control), which is how an immediate ACK
// is asked for.
type ackWatch struct {
	net.Conn
	armed atomic.Bool
	once  sync.Once
	asked chan struct{}
}

func (a *ackWatch) SyscallConn() (syscall.RawConn, error) {
	rc, err := a.Conn.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil, err
	}
	return watchedRaw{rc, a}, nil
}

type watchedRaw struct {
	syscall.RawConn
	a *ackWatch
}

func (w watchedRaw) Control(f func(fd uintptr)) error {
	if w.a.armed.Load() {
		w.a.once.Do(func() { close(w.a.asked) })
	}
	return w.RawConn.Control(f)
}

// TestBatchAsksForAnImmediateACK: in a batch, once the replies that came
// are read and more are due, with nothing sent since, the client asks its
// socket for an immediate ACK, as a server holding its next replies on
// Nagle's algorithm (Postfix) needs. The server here sends the second
// message's replies only once the client asked; a client that does not ask
// runs into DataTimeout.
func TestBatchAsksForAnImmediateACK(t *testing.T) {
	watch := &ackWatch{asked: make(chan struct{})}
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "PIPELINING", "CHUNKING") {
			return
		}
		for _, verb := range []string{"MAIL", "RCPT", "BDAT", "", "RSET", "MAIL", "RCPT", "BDAT", ""} {
			var err error
			if verb == "" {
				_, err = c.ReadLine() // the chunk: one line
			} else {
				_, err = c.Expect(verb)
			}
			if err != nil {
				return
			}
		}
		c.Send("250 ok", "250 ok", "250 queued 1")
		select {
		case <-watch.asked:
		case <-time.After(10 * time.Second):
		}
		c.Send("250 reset", "250 ok", "250 ok", "250 queued 2")
		c.WaitClose()
	})
	defer srv.Close()
	dial := dialFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		watch.Conn = nc
		return watch, err
	})
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security: smtpkit.SecurityNone, Dialer: dial, DataTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	watch.armed.Store(true)
	mails := []smtpkit.Mail{
		{Envelope: smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, Message: strings.NewReader("one\r\n")},
		{Envelope: smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, Message: strings.NewReader("two\r\n")},
	}
	for i, r := range c.SendBatch(testContext(t), mails) {
		if r.Err != nil {
			t.Errorf("message %d: %v (no immediate ACK asked for while the second message's replies were due?)", i, r.Err)
		}
	}
}
