package smtpkit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// pickyBackend refuses senders and recipients whose local part starts with
// "bad", and records what it delivers.
type pickyBackend struct {
	mu        sync.Mutex
	delivered []string // the Subject-less bodies delivered
}

func (b *pickyBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &pickySession{b: b}, nil }

type pickySession struct {
	b     *pickyBackend
	rcpts int
}

var errBad = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "bad address"}

func (s *pickySession) Mail(from string, _ *smtp.MailOptions) error {
	if strings.HasPrefix(from, "bad") {
		return errBad
	}
	return nil
}

func (s *pickySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "bad") {
		return errBad
	}
	s.rcpts++
	return nil
}

func (s *pickySession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.delivered = append(s.b.delivered, string(body))
	s.b.mu.Unlock()
	return nil
}

func (s *pickySession) Reset()        { s.rcpts = 0 }
func (s *pickySession) Logout() error { return nil }

func TestSendBatch(t *testing.T) {
	t.Run("chunking", func(t *testing.T) { testSendBatch(t, false) })
	t.Run("pipelining only", func(t *testing.T) { testSendBatch(t, true) })
}

// testSendBatch sends a batch of good and refused messages; without
// CHUNKING each message's data is followed by the next envelope in the
// same write, so the batch takes about one write per message.
func testSendBatch(t *testing.T, noChunking bool) {
	backend := &pickyBackend{}
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.Config.Backend = backend
	srv.Start()
	defer srv.Close()
	opts := srv.ClientOptions()
	counting := &countingDialer{dropChunking: noChunking}
	opts.Dialer = counting
	c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit(testContext(t))
	if c.Capabilities().Chunking() == noChunking {
		t.Fatalf("CHUNKING offered: %v", c.Capabilities().Chunking())
	}
	writesBefore := counting.writes.Load()

	type want struct {
		err       error // nil, or a sentinel / phase marker below
		phase     smtpkit.Phase
		accepted  int
		delivered bool
	}
	var mails []smtpkit.Mail
	var wants []want
	add := func(from string, to []string, w want) {
		i := len(mails)
		mails = append(mails, smtpkit.Mail{
			Envelope: smtpkit.Envelope{From: from, To: to},
			Message:  strings.NewReader(fmt.Sprintf("message %d\r\n", i)),
		})
		wants = append(wants, w)
	}
	for i := range 60 {
		switch i % 6 {
		case 1:
			add("a@x.test", []string{"bad1@y.test", "bad2@y.test"}, want{err: smtpkit.ErrAllRecipientsRefused, phase: smtpkit.PhaseRcpt})
		case 3:
			add("bad@x.test", []string{"b@y.test"}, want{phase: smtpkit.PhaseMail})
		case 4:
			add("a@x.test", []string{"bad@y.test", "b@y.test", "c@y.test"}, want{accepted: 2, delivered: true})
		default:
			add("a@x.test", []string{"b@y.test"}, want{accepted: 1, delivered: true})
		}
	}
	results := c.SendBatch(testContext(t), mails)
	// Without CHUNKING a write per message (the data, then the next
	// envelope); with it, writes that carry whole transactions, several
	// when the server is slower than the client, even once the window of
	// pending replies is full (a write per command would be four per
	// message). How many share a write depends on timing.
	n := counting.writes.Load() - writesBefore
	t.Logf("%d writes for %d messages", n, len(mails))
	if perMsg := float64(n) / float64(len(mails)); noChunking && perMsg > 1.1 || !noChunking && perMsg > 1 {
		t.Errorf("%d writes for %d messages (CHUNKING %v)", n, len(mails), !noChunking)
	}
	var wantDelivered []string
	for i, r := range results {
		w := wants[i]
		if w.delivered {
			wantDelivered = append(wantDelivered, fmt.Sprintf("message %d\r\n", i))
			if r.Err != nil || len(r.Result.Accepted()) != w.accepted || r.Result.Reply.Code != 250 {
				t.Errorf("message %d: %v, %+v; want %d accepted and a 250", i, r.Err, r.Result, w.accepted)
			}
			continue
		}
		var e *smtpkit.Error
		if !errors.As(r.Err, &e) || e.Phase != w.phase || (w.err != nil && !errors.Is(r.Err, w.err)) {
			t.Errorf("message %d: err %v; want phase %s %v", i, r.Err, w.phase, w.err)
		}
	}
	backend.mu.Lock()
	defer backend.mu.Unlock()
	if strings.Join(backend.delivered, "") != strings.Join(wantDelivered, "") {
		t.Errorf("delivered %d messages %q\nwant %d %q", len(backend.delivered), backend.delivered, len(wantDelivered), wantDelivered)
	}
	// The connection is still in step after the batch.
	if err := c.Noop(testContext(t)); err != nil {
		t.Errorf("Noop after the batch: %v", err)
	}
}

// countingDialer counts the writes of its connections and, when asked,
// hides CHUNKING from the server's EHLO reply.
type countingDialer struct {
	dropChunking bool
	writes       atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: nc, d: d}, nil
}

type countingConn struct {
	net.Conn
	d       *countingDialer
	pending []byte // bytes read, not yet handed on: the start of a line
	ready   []byte // whole lines, filtered
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.d.writes.Add(1)
	return c.Conn.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	if !c.d.dropChunking {
		return c.Conn.Read(p)
	}
	for len(c.ready) == 0 {
		buf := make([]byte, 4096)
		n, err := c.Conn.Read(buf)
		c.pending = append(c.pending, buf[:n]...)
		for {
			i := bytes.IndexByte(c.pending, '\n')
			if i < 0 {
				break
			}
			line := c.pending[:i+1]
			if !bytes.HasPrefix(line, []byte("250-CHUNKING")) {
				c.ready = append(c.ready, line...)
			}
			c.pending = c.pending[i+1:]
		}
		if err != nil && len(c.ready) == 0 {
			return 0, err
		}
	}
	n := copy(p, c.ready)
	c.ready = c.ready[n:]
	return n, nil
}

// TestSendBatchWithoutChunking pipelines DATA transactions.
func TestSendBatchWithoutChunking(t *testing.T) {
	data := make(chan string, 1)
	srv := scriptDATA(t, true, []string{"250 2.1.5 ok"}, "354 go ahead", data)
	defer srv.Close()
	c := dialRaw(t, srv)
	results := c.SendBatch(testContext(t), []smtpkit.Mail{{
		Envelope: smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}},
		Message:  strings.NewReader("only\r\n"),
	}})
	if len(results) != 1 || results[0].Err != nil {
		t.Fatalf("results %+v", results)
	}
	if got := <-data; got != "only\r\n" {
		t.Errorf("data %q", got)
	}
}

// TestSendBatchBrokenReader: a message that cannot be read breaks the
// connection; the messages before it are delivered, it and the ones after fail.
func TestSendBatchBrokenReader(t *testing.T) {
	t.Run("chunking", func(t *testing.T) { testSendBatchBrokenReader(t, false) })
	t.Run("pipelining only", func(t *testing.T) { testSendBatchBrokenReader(t, true) })
}

func testSendBatchBrokenReader(t *testing.T, noChunking bool) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	opts := srv.ClientOptions()
	opts.Dialer = &countingDialer{dropChunking: noChunking}
	c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env := smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	results := c.SendBatch(testContext(t), []smtpkit.Mail{
		{Envelope: env, Message: strings.NewReader("one\r\n")},
		{Envelope: env, Message: &failingReader{n: 1 << 20}},
		{Envelope: env, Message: strings.NewReader("three\r\n")},
	})
	if results[0].Err != nil {
		t.Errorf("message 0: %v", results[0].Err)
	}
	for i := 1; i < 3; i++ {
		if results[i].Err == nil {
			t.Errorf("message %d succeeded", i)
		}
	}
	c.Close()
	srv.Close()
	if msgs := srv.Messages(); len(msgs) != 1 || string(msgs[0].Data) != "one\r\n" {
		t.Errorf("delivered %d messages", len(msgs))
	}
}
