package smtpkit_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

// wireDialer dials TCP, with a small send buffer when sendBuffer is set,
// and counts the reads and writes that reach its connections, so a test
// can tell that a call did no I/O at all.
type wireDialer struct {
	sendBuffer int
	io         atomic.Int64
}

func (d *wireDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if d.sendBuffer > 0 {
		if err := nc.(*net.TCPConn).SetWriteBuffer(d.sendBuffer); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return &countedConn{Conn: nc, io: &d.io}, nil
}

// countedConn counts every Read and Write on it.
type countedConn struct {
	net.Conn
	io *atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	c.io.Add(1)
	return c.Conn.Read(p)
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.io.Add(1)
	return c.Conn.Write(p)
}

// endless is a message that never ends: lines of text for as long as it is read.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	const line = "an endless message, one line after another, never a last one\r\n"
	for i := range p {
		p[i] = line[i%len(line)]
	}
	return len(p), nil
}

// TestLongAuthLineAfterIdle: an AUTH line longer than the 4 KiB write
// buffer, sent after the connection idled past CommandTimeout, reaches
// the server whole. At dcaafbe the line was written under the deadline
// left from the EHLO reply, long passed, and failed with an i/o timeout.
func TestLongAuthLineAfterIdle(t *testing.T) {
	long := strings.Repeat("t0k3n", 1200) // 6000 bytes
	tests := []struct {
		mech string
		auth smtpkit.Auth
		want string // what the decoded initial response must hold
	}{
		{sasl.XOAUTH2, smtpkit.Auth{Username: "tim", Token: long}, "user=tim\x01auth=Bearer " + long + "\x01\x01"},
		{sasl.Plain, smtpkit.Auth{Username: "tim", Password: long}, "\x00tim\x00" + long},
	}
	for _, tt := range tests {
		t.Run(tt.mech, func(t *testing.T) {
			srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
				if !greetAndEHLO(c, "AUTH XOAUTH2 PLAIN") {
					return
				}
				l, err := c.ReadLine()
				if err != nil {
					return
				}
				ir, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(l, "AUTH "+tt.mech+" "))
				if err == nil && string(ir) == tt.want {
					c.Send("235 2.7.0 accepted")
				} else {
					c.Send("535 5.7.8 the credentials arrived cut short or garbled")
				}
				c.WaitClose()
			})
			defer srv.Close()
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
				Security: smtpkit.SecurityNone, CommandTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			time.Sleep(500 * time.Millisecond) // the deadline of the EHLO reply has passed
			a := tt.auth
			a.AllowCleartext, a.Mechanisms = true, []string{tt.mech}
			if err := c.Login(testContext(t), &a); err != nil {
				t.Fatalf("Login with a %d-byte secret after idling: %v", len(long), err)
			}
			if got := c.AuthMechanism(); got != tt.mech {
				t.Errorf("AuthMechanism() = %q, want %q", got, tt.mech)
			}
		})
	}
}

// TestLongEnvelopeAfterIdle: a pipelined envelope longer than the write
// buffer, after idling past every limit, reaches the server whole. (At
// dcaafbe this path was already bounded, since 8020ac0; it guards the
// transaction side of the same rule.)
func TestLongEnvelopeAfterIdle(t *testing.T) {
	// An envelope longer than the write buffer (16 KiB): it reaches the
	// socket while being buffered, inside the bounded write.
	var to []string
	for i := range 400 {
		to = append(to, fmt.Sprintf("recipient-%03d-%s@long.test", i, strings.Repeat("r", 40)))
	}
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "PIPELINING") {
			return
		}
		if _, err := c.Expect("MAIL FROM:"); err != nil {
			return
		}
		replies := []string{"250 2.1.0 ok"}
		for _, rcpt := range to {
			if l, err := c.Expect("RCPT"); err != nil || l != "RCPT TO:<"+rcpt+">" {
				c.Send("501 5.5.2 the command arrived cut short")
				c.WaitClose()
				return
			}
			replies = append(replies, "250 2.1.5 ok")
		}
		if _, err := c.Expect("DATA"); err != nil || c.Send(append(replies, "354 go")...) != nil {
			return
		}
		if _, err := readData(c); err == nil {
			c.Send("250 2.0.0 queued")
		}
		c.WaitClose()
	})
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone,
		CommandTimeout: 300 * time.Millisecond, DataTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(500 * time.Millisecond)
	env := &smtpkit.Envelope{From: "a@x.test", To: to}
	if _, err := c.Send(testContext(t), env, strings.NewReader("hi\r\n")); err != nil {
		t.Fatalf("Send with a %d-recipient envelope after idling: %v", len(to), err)
	}
}

// TestStalledWriteBreaksTheClient: when the server stops reading, a write
// fails within its limit with ErrCommandTimeout, and the client is broken:
// the next call returns the same error at once, without any I/O. At dcaafbe
// the AUTH line was written outside the bounded path: its failure was a bare
// i/o timeout that left the client usable, so the next NOOP wrote again.
func TestStalledWriteBreaksTheClient(t *testing.T) {
	tests := []struct {
		name   string
		ext    []string
		script func(c *smtptest.RawConn) bool // the steps before the server stops reading
		call   func(ctx context.Context, c *smtpkit.Client) error
		phase  smtpkit.Phase
	}{
		{"AUTH", []string{"AUTH XOAUTH2"}, func(*smtptest.RawConn) bool { return true },
			func(ctx context.Context, c *smtpkit.Client) error {
				return c.Login(ctx, &smtpkit.Auth{Username: "tim", Token: strings.Repeat("t", 4<<20),
					AllowCleartext: true, Mechanisms: []string{sasl.XOAUTH2}})
			}, smtpkit.PhaseAuth},
		{"DATA", nil, func(c *smtptest.RawConn) bool {
			for _, step := range [][2]string{{"MAIL", "250 ok"}, {"RCPT", "250 ok"}, {"DATA", "354 go"}} {
				if _, err := c.Expect(step[0]); err != nil || c.Send(step[1]) != nil {
					return false
				}
			}
			return true
		}, func(ctx context.Context, c *smtpkit.Client) error {
			_, err := c.Send(ctx, &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, endless{})
			return err
		}, smtpkit.PhaseData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
				if greetAndEHLO(c, tt.ext...) && tt.script(c) {
					<-release // read nothing more
				}
			})
			defer srv.Close()
			defer close(release)
			d := &wireDialer{sendBuffer: 4096}
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone,
				CommandTimeout: 200 * time.Millisecond, DataTimeout: 200 * time.Millisecond, Dialer: d})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = tt.call(testContext(t), c)
			var e *smtpkit.Error
			if !errors.As(err, &e) || !errors.Is(err, smtpkit.ErrCommandTimeout) || e.Phase != tt.phase {
				t.Fatalf("err = %v, want an *Error of phase %s wrapping ErrCommandTimeout", err, tt.phase)
			}
			before := d.io.Load()
			if again := c.Noop(testContext(t)); again == nil || again.Error() != err.Error() {
				t.Errorf("Noop after the failure = %v, want the same error: %v", again, err)
			}
			if n := d.io.Load() - before; n != 0 {
				t.Errorf("Noop on a broken client did %d reads or writes, want none", n)
			}
		})
	}
}

// TestPoolRetiresWithoutWaitingForQUIT: a connection retired after
// MaxMessages says QUIT in the background, so Send returns at once even
// when the server never answers QUIT; Close waits for that QUIT only up to
// its own bound. At dcaafbe the Pool said QUIT inside Send, bounded by
// CommandTimeout (a minute here) and deaf to Send's context.
func TestPoolRetiresWithoutWaitingForQUIT(t *testing.T) {
	t.Parallel() // Close waits the QUIT's own bound (5 s) in the first case
	silentQuit := func(c *smtptest.RawConn) {
		if !oneTransaction(c) {
			return
		}
		if _, err := c.Expect("QUIT"); err == nil {
			c.WaitClose() // never answer; the client closes
		}
	}
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	newPool := func(addr string) *smtpkit.Pool {
		return &smtpkit.Pool{Addr: addr, MaxMessages: 1, Dialer: &smtpkit.Dialer{
			Options: smtpkit.Options{Security: smtpkit.SecurityNone, CommandTimeout: time.Minute}}}
	}
	send := func(t *testing.T, pool *smtpkit.Pool) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := pool.Send(ctx, env, strings.NewReader("m\r\n")); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("Send returned after its context ended (%v): it waited for the retired connection's QUIT", ctx.Err())
		}
	}
	t.Run("Close waits for the QUIT's bound", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.NewRawServer(silentQuit)
		defer srv.Close()
		pool := newPool(srv.Addr)
		send(t, pool)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pool.Close(ctx); err != nil {
			t.Errorf("Close = %v, want nil: the retired QUIT is bounded by min(5s, CommandTimeout), not by a minute", err)
		}
	})
	t.Run("Close with a short context cuts the QUIT short", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.NewRawServer(silentQuit)
		defer srv.Close()
		pool := newPool(srv.Addr)
		send(t, pool)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := pool.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close = %v, want the context's error", err)
		}
		// Generous: the QUIT left alone would take its whole 5 s bound.
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Close took %v with a 100ms context: it waited for the QUIT", d)
		}
	})
}

// countingSASL counts the calls to a go-sasl client it wraps.
type countingSASL struct {
	gosasl.Client
	starts, nexts atomic.Int32
}

func (c *countingSASL) Start() (string, []byte, error) {
	c.starts.Add(1)
	return c.Client.Start()
}

func (c *countingSASL) Next(challenge []byte) ([]byte, error) {
	c.nexts.Add(1)
	return c.Client.Next(challenge)
}

func plainClient(t *testing.T, password string) *countingSASL {
	t.Helper()
	m, err := sasl.NewPlainClient("", testUser, password)
	if err != nil {
		t.Fatal(err)
	}
	return &countingSASL{Client: m}
}

// TestAuthClientStartedOnce: a caller's go-sasl client is started once per
// login, whether the login is Dial's or Login's and whether it succeeds;
// at dcaafbe Login started it twice (once for its name). And Login with a
// nil Auth is an invalid option, not a panic (at dcaafbe: a nil dereference).
func TestAuthClientStartedOnce(t *testing.T) {
	srv := authServer(t, smtptest.Plain, sasl.Plain)
	opts := &smtpkit.Options{Security: smtpkit.SecurityNone}

	c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("Login(ctx, nil) panicked: %v", r)
			}
		}()
		err := c.Login(testContext(t), nil)
		var oe *smtpkit.OptionError
		if !errors.Is(err, smtpkit.ErrInvalidOptions) || !errors.As(err, &oe) || oe.Field != "Auth" {
			t.Errorf("Login(ctx, nil) = %v, want an *OptionError for Auth matching ErrInvalidOptions", err)
		}
	}()
	if err := c.Noop(testContext(t)); err != nil {
		t.Fatalf("Noop after Login(ctx, nil): %v; nothing should have been sent", err)
	}
	m := plainClient(t, testPassword)
	if err := c.Login(testContext(t), &smtpkit.Auth{Client: m}); err != nil {
		t.Fatal(err)
	}
	if n := m.starts.Load(); n != 1 {
		t.Errorf("Login started the mechanism %d times, want 1", n)
	}
	if got := c.AuthMechanism(); got != sasl.Plain {
		t.Errorf("AuthMechanism() = %q, want PLAIN (the name Start gave)", got)
	}
	sendOne(t, c)

	m = plainClient(t, testPassword)
	withAuth := *opts
	withAuth.Auth = &smtpkit.Auth{Client: m}
	c2, err := smtpkit.Dial(testContext(t), srv.Addr, &withAuth)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if n := m.starts.Load(); n != 1 {
		t.Errorf("Dial's login started the mechanism %d times, want 1", n)
	}

	m = plainClient(t, "wrong")
	withAuth.Auth = &smtpkit.Auth{Client: m}
	if _, err := smtpkit.Dial(testContext(t), srv.Addr, &withAuth); !errors.Is(err, smtpkit.ErrAuthFailed) {
		t.Errorf("wrong password: err = %v, want ErrAuthFailed", err)
	}
	if n := m.starts.Load(); n != 1 {
		t.Errorf("a refused login started the mechanism %d times, want 1", n)
	}
}

// TestReply421ClosesEverywhere: a 421 (the server is closing, RFC 5321
// 3.8) to any command ends in an *Error with code 421 wrapping ErrClosed,
// the client closes the connection and is broken: the next call fails with
// ErrClosed without any I/O. At dcaafbe the 421 was handled in several
// places and missed in most: only the RCPT cases wrapped ErrClosed. (The
// pipelined BDAT cases failed at 80e8d2d too: the reply's own error won.)
func TestReply421ClosesEverywhere(t *testing.T) {
	const bye = "421 4.3.2 shutting down"
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	send := func(ctx context.Context, c *smtpkit.Client) error {
		_, err := c.Send(ctx, env, strings.NewReader("hi\r\n"))
		return err
	}
	// steps answers each expected command in turn; "" reads a line whatever it holds.
	steps := func(c *smtptest.RawConn, pairs ...string) bool {
		for i := 0; i < len(pairs); i += 2 {
			if _, err := c.Expect(pairs[i]); err != nil {
				return false
			}
			if pairs[i+1] != "" && c.Send(pairs[i+1]) != nil {
				return false
			}
		}
		return true
	}
	tests := []struct {
		name   string
		ext    []string
		script func(c *smtptest.RawConn) bool // up to and including the 421
		call   func(ctx context.Context, c *smtpkit.Client) error
		phase  smtpkit.Phase
	}{
		{"NOOP", nil, func(c *smtptest.RawConn) bool {
			return steps(c, "NOOP", bye)
		}, func(ctx context.Context, c *smtpkit.Client) error { return c.Noop(ctx) }, smtpkit.PhaseNoop},
		{"RCPT stepwise", nil, func(c *smtptest.RawConn) bool {
			return steps(c, "MAIL", "250 ok", "RCPT", bye)
		}, send, smtpkit.PhaseRcpt},
		{"RCPT pipelined", []string{"PIPELINING"}, func(c *smtptest.RawConn) bool {
			return steps(c, "MAIL", "", "RCPT", "", "DATA", "") && c.Send("250 ok", bye) == nil
		}, send, smtpkit.PhaseRcpt},
		{"BDAT in a pipelined batch", []string{"PIPELINING", "CHUNKING"}, func(c *smtptest.RawConn) bool {
			return steps(c, "MAIL", "", "RCPT", "", "BDAT 4 LAST", "", "hi", "") && c.Send("250 ok", "250 ok", bye) == nil
		}, func(ctx context.Context, c *smtpkit.Client) error {
			r := c.SendBatch(ctx, []smtpkit.Mail{{Envelope: *env, Message: strings.NewReader("hi\r\n")}})
			return r[0].Err
		}, smtpkit.PhaseData},
		{"MAIL in a pipelined batch", []string{"PIPELINING", "CHUNKING"}, func(c *smtptest.RawConn) bool {
			return steps(c, "MAIL", "", "RCPT", "", "BDAT 4 LAST", "", "hi", "") && c.Send(bye) == nil
		}, func(ctx context.Context, c *smtpkit.Client) error {
			r := c.SendBatch(ctx, []smtpkit.Mail{{Envelope: *env, Message: strings.NewReader("hi\r\n")}})
			return r[0].Err
		}, smtpkit.PhaseMail},
		{"BDAT pipelined", []string{"PIPELINING", "CHUNKING"}, func(c *smtptest.RawConn) bool {
			return steps(c, "MAIL", "", "RCPT", "", "BDAT 4 LAST", "", "hi", "") && c.Send("250 ok", "250 ok", bye) == nil
		}, send, smtpkit.PhaseData},
		{"BDAT stepwise", []string{"CHUNKING"}, func(c *smtptest.RawConn) bool {
			return steps(c, "MAIL", "250 ok", "RCPT", "250 ok", "BDAT 4 LAST", "", "hi", bye)
		}, send, smtpkit.PhaseData},
		{"end of DATA", nil, func(c *smtptest.RawConn) bool {
			if !steps(c, "MAIL", "250 ok", "RCPT", "250 ok", "DATA", "354 go") {
				return false
			}
			_, err := readData(c)
			return err == nil && c.Send(bye) == nil
		}, send, smtpkit.PhaseData},
		{"AUTH", []string{"AUTH PLAIN"}, func(c *smtptest.RawConn) bool {
			return steps(c, "AUTH PLAIN", bye)
		}, func(ctx context.Context, c *smtpkit.Client) error {
			return c.Login(ctx, &smtpkit.Auth{Username: "tim", Password: "pw", AllowCleartext: true})
		}, smtpkit.PhaseAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closed := make(chan bool, 1)
			srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
				if greetAndEHLO(c, tt.ext...) && tt.script(c) {
					c.Timeout = 5 * time.Second
					closed <- c.WaitClose() == nil
				}
			})
			defer srv.Close()
			d := &wireDialer{}
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, Dialer: d})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = tt.call(testContext(t), c)
			var e *smtpkit.Error
			if !errors.As(err, &e) || e.Code != 421 || !errors.Is(err, smtpkit.ErrClosed) || e.Phase != tt.phase {
				t.Fatalf("err = %v, want an *Error of phase %s with code 421 wrapping ErrClosed", err, tt.phase)
			}
			before := d.io.Load()
			if err := c.Noop(testContext(t)); !errors.Is(err, smtpkit.ErrClosed) {
				t.Errorf("Noop after the 421 = %v, want ErrClosed", err)
			}
			if n := d.io.Load() - before; n != 0 {
				t.Errorf("Noop after the 421 did %d reads or writes, want none", n)
			}
			select {
			case ok := <-closed:
				if !ok {
					t.Error("the server did not see the connection closed")
				}
			case <-testContext(t).Done():
				t.Fatal("the server's script did not end")
			}
			srv.Close()
			noops, want := 0, 0
			if tt.name == "NOOP" {
				want = 1 // the one answered with 421
			}
			for _, l := range srv.Received() {
				if l == "NOOP" {
					noops++
				}
			}
			if noops != want {
				t.Errorf("the server received %d NOOPs, want %d: nothing after its 421", noops, want)
			}
		})
	}
}
