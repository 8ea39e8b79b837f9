package smtpkit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

func TestPoolConcurrentSends(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer(), MaxConns: 3}
	defer pool.Close(testContext(t))
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 20 {
		wg.Go(func() {
			for i := range 10 {
				_, err := pool.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}},
					strings.NewReader(fmt.Sprintf("from %d, message %d\r\n", g, i)))
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(srv.Messages()); n != 200 {
		t.Errorf("%d messages delivered, want 200", n)
	}
	if n := srv.Connections(); n > 3 {
		t.Errorf("%d connections, want at most 3", n)
	}
}

// oneTransaction serves greeting, EHLO and one pipelined BDAT transaction.
func oneTransaction(c *smtptest.RawConn) bool {
	if !greetAndEHLO(c, "PIPELINING", "CHUNKING") {
		return false
	}
	for range 4 { // MAIL, RCPT, BDAT, one line of data
		if _, err := c.ReadLine(); err != nil {
			return false
		}
	}
	return c.Send("250 ok", "250 ok", "250 queued") == nil
}

// answerQuit waits for QUIT and answers it.
func answerQuit(c *smtptest.RawConn) {
	if _, err := c.Expect("QUIT"); err == nil {
		c.Send("221 bye")
	}
}

// TestPoolReplacesAConnectionTheServerClosed: the server times the idle
// connection out (421, then close); the next Send must not see it.
func TestPoolReplacesAConnectionTheServerClosed(t *testing.T) {
	closedIdle := make(chan struct{})
	var conns sync.Mutex
	n := 0
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		conns.Lock()
		n++
		first := n == 1
		conns.Unlock()
		if !oneTransaction(c) {
			return
		}
		if first {
			c.Send("421 4.4.2 idle too long, closing")
			close(closedIdle)
			return
		}
		answerQuit(c)
	})
	defer srv.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityNone}}}
	defer pool.Close(testContext(t))
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	if _, err := pool.Send(testContext(t), env, strings.NewReader("one\r\n")); err != nil {
		t.Fatal(err)
	}
	<-closedIdle
	if _, err := pool.Send(testContext(t), env, strings.NewReader("two\r\n")); err != nil {
		t.Fatalf("second Send on a pool whose idle connection the server closed: %v", err)
	}
	if got := srv.Connections(); got != 2 {
		t.Errorf("%d connections, want 2", got)
	}
}

// TestPoolRetriesWhenTheServerClosesJustBeforeUse: the connection looks
// alive but the server hangs up on the next transaction without a word.
// Without CHUNKING the end of the message never left the client (DATA
// waits for 354): the message goes on a new connection. With CHUNKING the
// whole message went in the first write: it may have been delivered (RFC
// 1047), so it is reported with ErrUnconfirmed, not sent twice.
func TestPoolRetriesWhenTheServerClosesJustBeforeUse(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunking=%v", chunking), func(t *testing.T) {
			var conns sync.Mutex
			n := 0
			srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
				conns.Lock()
				n++
				first := n == 1
				conns.Unlock()
				if chunking {
					if !oneTransaction(c) {
						return
					}
				} else if !greetAndEHLO(c, "PIPELINING") || !oneDataTransaction(c) {
					return
				}
				if first {
					c.ReadLine() // the next MAIL: hang up without a reply
					return
				}
				answerQuit(c)
			})
			defer srv.Close()
			pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityNone}}}
			defer pool.Close(testContext(t))
			env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
			if _, err := pool.Send(testContext(t), env, strings.NewReader("m0\r\n")); err != nil {
				t.Fatal(err)
			}
			_, err := pool.Send(testContext(t), env, strings.NewReader("m1\r\n"))
			switch {
			case chunking && !errors.Is(err, smtpkit.ErrUnconfirmed):
				t.Errorf("second send: %v, want ErrUnconfirmed", err)
			case !chunking && err != nil:
				t.Errorf("second send: %v, want it sent again on a new connection", err)
			}
			want := 2
			if chunking {
				want = 1
			}
			if got := srv.Connections(); got != want {
				t.Errorf("%d connections, want %d", got, want)
			}
		})
	}
}

// oneDataTransaction answers one pipelined MAIL, RCPT, DATA transaction.
func oneDataTransaction(c *smtptest.RawConn) bool {
	for range 3 {
		if _, err := c.ReadLine(); err != nil {
			return false
		}
	}
	if c.Send("250 ok", "250 ok", "354 go") != nil {
		return false
	}
	for {
		l, err := c.ReadLine()
		if err != nil {
			return false
		}
		if l == "." {
			return c.Send("250 queued") == nil
		}
	}
}

func TestPoolRetiresConnections(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer(), MaxMessages: 2}
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	for range 5 {
		if _, err := pool.Send(testContext(t), env, strings.NewReader("m\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Connections(); got != 3 {
		t.Errorf("%d connections for 5 messages at 2 per connection, want 3", got)
	}
	idle := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer(), IdleTimeout: time.Millisecond}
	before := srv.Connections()
	for range 2 {
		if _, err := idle.Send(testContext(t), env, strings.NewReader("m\r\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // past IdleTimeout
	}
	if got := srv.Connections() - before; got != 2 {
		t.Errorf("%d connections with an expired idle one, want 2", got)
	}
	pool.Close(testContext(t))
	idle.Close(testContext(t))
}

func TestPoolClose(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if oneTransaction(c) {
			answerQuit(c)
		}
	})
	defer srv.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityNone}}}
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	if _, err := pool.Send(testContext(t), env, strings.NewReader("m\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := pool.Close(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Send(testContext(t), env, strings.NewReader("m\r\n")); !errors.Is(err, smtpkit.ErrPoolClosed) {
		t.Errorf("Send after Close: %v, want ErrPoolClosed", err)
	}
	srv.Close()
	if got := verbs(srv.Received()); got[len(got)-1] != "QUIT" {
		t.Errorf("the idle connection was not closed with QUIT: %q", got)
	}
}

func TestPoolSendAll(t *testing.T) {
	backend := &pickyBackend{}
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.Config.Backend = backend
	srv.Start()
	defer srv.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer(), MaxConns: 4}
	defer pool.Close(testContext(t))
	var mails []smtpkit.Mail
	for i := range 300 {
		to := "b@y.test"
		if i%10 == 7 {
			to = "bad@y.test"
		}
		mails = append(mails, smtpkit.Mail{
			Envelope: smtpkit.Envelope{From: "a@x.test", To: []string{to}},
			Message:  strings.NewReader(fmt.Sprintf("message %d\r\n", i)),
		})
	}
	var mu sync.Mutex
	reported := map[int]int{}
	results := pool.SendAll(testContext(t), mails, func(i int, r smtpkit.BatchResult) {
		mu.Lock()
		defer mu.Unlock()
		reported[i]++
	})
	for i := range mails {
		if reported[i] != 1 {
			t.Errorf("message %d reported %d times, want once", i, reported[i])
		}
	}
	ok := 0
	for i, r := range results {
		switch {
		case i%10 == 7 && !errors.Is(r.Err, smtpkit.ErrAllRecipientsRefused):
			t.Errorf("message %d: %v, want ErrAllRecipientsRefused", i, r.Err)
		case i%10 != 7 && r.Err != nil:
			t.Errorf("message %d: %v", i, r.Err)
		case r.Err == nil:
			ok++
		}
	}
	backend.mu.Lock()
	delivered := len(backend.delivered)
	backend.mu.Unlock()
	if ok != 270 || delivered != 270 {
		t.Errorf("%d reported sent, %d delivered, want 270 each", ok, delivered)
	}
	if n := srv.Connections(); n > 4 {
		t.Errorf("%d connections, want at most 4", n)
	}
}

func TestPoolGetHonoursContext(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if greetAndEHLO(c) {
			c.WaitClose() // never answers MAIL: the one connection stays busy
		}
	})
	defer srv.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityNone}}, MaxConns: 1}
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	busy, cancelBusy := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() {
		_, err := pool.Send(busy, env, strings.NewReader("m\r\n"))
		done <- err
	}()
	ctx, cancel := context.WithTimeout(testContext(t), 100*time.Millisecond)
	defer cancel()
	for srv.Connections() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := pool.Send(ctx, env, strings.NewReader("m\r\n")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send waiting for the only connection: %v, want context.DeadlineExceeded", err)
	}
	cancelBusy()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("busy Send: %v, want context.Canceled", err)
	}
	pool.Close(testContext(t))
}

// TestSendAllRedialsForUnsentMessages: a server with PIPELINING and no
// CHUNKING drops the connection in the middle of a batch; the messages
// that never reached it are not failures: they go out on a new connection,
// and every message is delivered once.
func TestSendAllRedialsForUnsentMessages(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	var delivered []string
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		mu.Lock()
		conns++
		first := conns == 1
		mu.Unlock()
		if !greetAndEHLO(c, "PIPELINING") {
			return
		}
		for n := 0; ; n++ {
			var group []string
			for len(group) < 3 { // [RSET] MAIL RCPT DATA
				l, err := c.ReadLine()
				if err != nil {
					return
				}
				if strings.HasPrefix(l, "QUIT") {
					c.Send("221 bye")
					return
				}
				if strings.HasPrefix(l, "RSET") {
					c.Send("250 reset")
					continue
				}
				group = append(group, l)
			}
			if first && n == 5 {
				return // drop the connection: this message's data was never sent
			}
			if c.Send("250 ok", "250 ok", "354 go") != nil {
				return
			}
			body, err := readData(c)
			if err != nil {
				return
			}
			mu.Lock()
			delivered = append(delivered, body)
			mu.Unlock()
			c.Send("250 queued")
		}
	})
	defer srv.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, MaxConns: 1,
		Dialer: &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityNone}}}
	defer pool.Close(testContext(t))
	var mails []smtpkit.Mail
	for i := range 30 {
		mails = append(mails, smtpkit.Mail{
			Envelope: smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}},
			Message:  strings.NewReader(fmt.Sprintf("message %d\r\n", i)),
		})
	}
	for i, r := range pool.SendAll(testContext(t), mails, nil) {
		if r.Err != nil {
			t.Errorf("message %d: %v", i, r.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 30 || conns != 2 {
		t.Errorf("%d messages delivered over %d connections, want 30 over 2", len(delivered), conns)
	}
	seen := map[string]bool{}
	for _, d := range delivered {
		if seen[d] {
			t.Errorf("delivered twice: %q", d)
		}
		seen[d] = true
	}
}

// seekOnce is a message whose reader tells where it stands but cannot be
// rewound.
type seekOnce struct{ *strings.Reader }

func (s seekOnce) Seek(offset int64, whence int) (int64, error) {
	if whence == io.SeekCurrent && offset == 0 {
		return s.Reader.Seek(0, io.SeekCurrent)
	}
	return 0, errors.New("cannot rewind")
}

// TestSendAllDoesNotResendWhatCannotBeRewound: a message cut short before
// its data went out, whose reader then fails to rewind, fails once, with
// the rewind's error, and is not sent again from where its reader stands.
func TestSendAllDoesNotResendWhatCannotBeRewound(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		mu.Lock()
		conns++
		first := conns == 1
		mu.Unlock()
		if !greetAndEHLO(c, "PIPELINING") {
			return
		}
		if first {
			c.ReadLine() // MAIL: hang up before any data
			return
		}
		if !oneDataTransaction(c) {
			return
		}
		answerQuit(c)
	})
	defer srv.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, MaxConns: 1,
		Dialer: &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityNone}}}
	defer pool.Close(testContext(t))
	calls := map[int]int{}
	env := smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	results := pool.SendAll(testContext(t), []smtpkit.Mail{
		{Envelope: env, Message: seekOnce{strings.NewReader("cannot be rewound\r\n")}},
		{Envelope: env, Message: strings.NewReader("can be rewound\r\n")},
	}, func(i int, _ smtpkit.BatchResult) { calls[i]++ })
	if err := results[0].Err; err == nil || !strings.Contains(err.Error(), "cannot rewind") {
		t.Errorf("message 0: err = %v, want the rewind's error", err)
	}
	if err := results[1].Err; err != nil {
		t.Errorf("message 1: %v, want it sent again on a new connection", err)
	}
	if calls[0] != 1 || calls[1] != 1 {
		t.Errorf("progress called %v times, want once each", calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 2 {
		t.Errorf("%d connections, want 2", conns)
	}
}
