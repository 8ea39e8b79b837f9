package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/smtptest"
)

// reports collects what a Runner reports.
type reports struct {
	mu sync.Mutex
	es []outbox.Entry
}

func (r *reports) add(e outbox.Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.es = append(r.es, e)
}

func (r *reports) all() []outbox.Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]outbox.Entry(nil), r.es...)
}

// runUntil runs r until cond holds, then stops it.
func runUntil(t *testing.T, r *outbox.Runner, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, what, cond)
}

func TestRunnerDelivers(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, rec)
	s := openSpool(t)
	for n := range 40 {
		enqueue(t, s, n, 300+n, fmt.Sprintf("a%d@y.test", n), fmt.Sprintf("b%d@y.test", n))
	}
	var rep reports
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), Report: rep.add}
	if err := r.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	got := rec.deliveries()
	if len(got) != 40 {
		t.Fatalf("%d messages delivered, want 40", len(got))
	}
	for _, d := range got {
		var n int
		fmt.Sscanf(d.From, "sender%d@x.test", &n)
		if !bytes.Equal(d.Data, message(n, 300+n)) || strings.Join(d.To, ",") != fmt.Sprintf("a%d@y.test,b%d@y.test", n, n) {
			t.Errorf("message %d arrived as %d bytes to %q", n, len(d.Data), d.To)
		}
	}
	if es := listAll(t, s); len(es) != 0 {
		t.Errorf("%d entries left after delivery", len(es))
	}
	if st := r.Stats(); st.Attempts != 40 || st.Delivered != 80 || st.Deferred != 0 || st.Failed != 0 || st.InDoubt != 0 {
		t.Errorf("Stats %+v, want 40 attempts, 80 recipients delivered", st)
	}
	es := rep.all()
	if len(es) != 40 {
		t.Fatalf("%d reports, want 40", len(es))
	}
	for _, e := range es {
		if len(e.Failed()) != 0 || len(e.Pending()) != 0 || e.Recipients[0].Reply.Code != 250 {
			t.Errorf("report %+v: want every recipient delivered with the final 250", e)
		}
	}
}

// TestRunner451Then250: a temporary refusal of the data is retried after
// the backoff, and the message arrives once.
func TestRunner451Then250(t *testing.T) {
	var calls atomic.Int32
	var first time.Time
	rec := &recorder{data: func(d *delivery) error {
		if calls.Add(1) == 1 {
			first = time.Now()
			return smtpError(451, [3]int{4, 3, 0}, "local problem, try later")
		}
		return nil
	}}
	srv := newServer(t, rec)
	s := openSpool(t)
	id := enqueue(t, s, 1, 500)
	var rep reports
	const minDelay = 50 * time.Millisecond
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), MinDelay: minDelay, Report: rep.add}
	if err := r.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(testContext(t), id)
	if err != nil {
		t.Fatalf("the entry is gone after a 451: %v", err)
	}
	if e.Attempts != 1 || e.Recipients[0].Status != outbox.Pending || e.Recipients[0].Reply.Code != 451 ||
		!strings.Contains(e.LastError, "451") || e.NextAttempt.Before(first.Add(minDelay/2)) {
		t.Errorf("entry after a 451: %+v; want one attempt, pending with the 451, due after the backoff", e)
	}
	runUntil(t, r, "the second attempt", func() bool { return len(rep.all()) == 1 })
	if calls.Load() != 2 || len(rec.deliveries()) != 1 {
		t.Errorf("%d transfers, %d delivered; want 2 and 1", calls.Load(), len(rec.deliveries()))
	}
	if d := rec.deliveries()[0]; d.At.Sub(first) < minDelay/2 {
		t.Errorf("retried after %v, want at least half of MinDelay %v", d.At.Sub(first), minDelay)
	}
	if st := r.Stats(); st.Attempts != 2 || st.Deferred != 1 || st.Delivered != 1 || st.InDoubt != 0 {
		t.Errorf("Stats %+v, want 2 attempts, 1 deferred, 1 delivered", st)
	}
}

// TestRunnerRetriesOnlyFailedRecipients: each recipient is tracked alone.
// The one accepted is not sent to again; the one refused for now is
// retried alone; the one refused for good is reported.
func TestRunnerRetriesOnlyFailedRecipients(t *testing.T) {
	var laterCalls atomic.Int32
	rec := &recorder{rcpt: func(to string) error {
		switch to {
		case "later@y.test":
			if laterCalls.Add(1) == 1 {
				return smtpError(450, [3]int{4, 2, 1}, "mailbox busy")
			}
		case "nobody@y.test":
			return smtpError(550, [3]int{5, 1, 1}, "no such user")
		}
		return nil
	}}
	srv := newServer(t, rec)
	s := openSpool(t)
	enqueue(t, s, 1, 500, "now@y.test", "later@y.test", "nobody@y.test")
	var rep reports
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), MinDelay: 10 * time.Millisecond, Report: rep.add}
	runUntil(t, r, "the entry to end", func() bool { return len(rep.all()) == 1 })
	got := rec.deliveries()
	if len(got) != 2 || strings.Join(got[0].To, ",") != "now@y.test" || strings.Join(got[1].To, ",") != "later@y.test" {
		t.Fatalf("deliveries %+v; want one to now@ and then one to later@ alone", got)
	}
	e := rep.all()[0]
	want := []outbox.Status{outbox.Delivered, outbox.Delivered, outbox.Failed}
	for i, rc := range e.Recipients {
		if rc.Status != want[i] {
			t.Errorf("recipient %s is %s, want %s", rc.Address, rc.Status, want[i])
		}
	}
	if f := e.Failed(); len(f) != 1 || f[0].Reply.Code != 550 || f[0].Reply.Enhanced != [3]int{5, 1, 1} {
		t.Errorf("failed %+v, want nobody@ with the 550 5.1.1", f)
	}
	if st := r.Stats(); st.Delivered != 2 || st.Failed != 1 || st.Deferred != 1 {
		t.Errorf("Stats %+v, want 2 delivered, 1 failed, 1 deferred", st)
	}
}

// switchDialer refuses connections while down is set, like a server that
// is not there.
type switchDialer struct {
	down    atomic.Bool
	refused atomic.Int32
}

func (d *switchDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.down.Load() {
		d.refused.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// TestRunnerServerDownThenUp: connection failures are transient; the
// message goes once the server is back.
func TestRunnerServerDownThenUp(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, rec)
	s := openSpool(t)
	enqueue(t, s, 1, 500)
	d := &switchDialer{}
	d.down.Store(true)
	opts := testOptions()
	opts.Dialer = d
	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: &smtpkit.Dialer{Options: opts}}
	defer pool.Close(testContext(t))
	var rep reports
	r := &outbox.Runner{Store: s, Pool: pool, MinDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, Report: rep.add}
	runUntil(t, r, "the server up and the message delivered", func() bool {
		if d.refused.Load() >= 3 {
			d.down.Store(false)
		}
		return len(rep.all()) == 1
	})
	if len(rec.deliveries()) != 1 {
		t.Errorf("%d deliveries, want 1", len(rec.deliveries()))
	}
	if st := r.Stats(); st.Deferred < 3 || st.Delivered != 1 || st.Failed != 0 || st.InDoubt != 0 {
		t.Errorf("Stats %+v, want at least 3 deferrals, then 1 delivered", st)
	}
}

// TestRunnerPermanentFailures: a 5xx to the data or to MAIL fails the
// entry at once, and a message the server's SIZE refuses too.
func TestRunnerPermanentFailures(t *testing.T) {
	rec := &recorder{
		mail: func(from string) error {
			if from == "sender2@x.test" {
				return smtpError(553, [3]int{5, 7, 1}, "sender not allowed")
			}
			return nil
		},
		data: func(d *delivery) error {
			if d.From == "sender1@x.test" {
				return smtpError(554, [3]int{5, 6, 0}, "content refused")
			}
			return nil
		},
	}
	srv := newServer(t, rec)
	srv.Config.MaxMessageBytes = 100 << 10
	s := openSpool(t)
	enqueue(t, s, 1, 500)
	enqueue(t, s, 2, 500)
	enqueue(t, s, 3, 200<<10)
	var rep reports
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), Report: rep.add}
	if err := r.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	es := rep.all()
	if len(es) != 3 {
		t.Fatalf("%d reports, want 3", len(es))
	}
	for _, e := range es {
		f := e.Failed()
		if len(f) != 1 || e.Attempts != 1 {
			t.Errorf("report %+v, want its recipient failed after one attempt", e)
			continue
		}
		switch e.Envelope.From {
		case "sender1@x.test":
			if f[0].Reply.Code != 554 {
				t.Errorf("the refused data failed with %+v, want the 554", f[0])
			}
		case "sender2@x.test":
			if f[0].Reply.Code != 553 {
				t.Errorf("the refused sender failed with %+v, want the 553", f[0])
			}
		case "sender3@x.test":
			if !strings.Contains(f[0].Reason, "too large") {
				t.Errorf("the message too large failed with %+v, want the reason", f[0])
			}
		}
	}
	if len(rec.deliveries()) != 0 || len(listAll(t, s)) != 0 {
		t.Errorf("%d delivered, %d left; want none of either", len(rec.deliveries()), len(listAll(t, s)))
	}
	if st := r.Stats(); st.Failed != 3 || st.Deferred != 0 {
		t.Errorf("Stats %+v, want 3 failed, no deferral", st)
	}
}

// TestRunnerMaxAge: an entry still failing transiently after MaxAge ends
// with a failure report saying why.
func TestRunnerMaxAge(t *testing.T) {
	rec := &recorder{data: func(d *delivery) error { return smtpError(451, [3]int{4, 4, 3}, "still not") }}
	srv := newServer(t, rec)
	s := openSpool(t)
	enqueue(t, s, 1, 500)
	var rep reports
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), MaxAge: 200 * time.Millisecond,
		MinDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond, Report: rep.add}
	runUntil(t, r, "the entry to expire", func() bool { return len(rep.all()) == 1 })
	e := rep.all()[0]
	f := e.Failed()
	if len(f) != 1 || !strings.Contains(f[0].Reason, "given up after") || !strings.Contains(f[0].Reason, "451") || e.Attempts < 2 {
		t.Errorf("report %+v: want the recipient failed, given up after MaxAge, with the last 451, after several attempts", e)
	}
	if len(listAll(t, s)) != 0 {
		t.Error("the expired entry is still queued")
	}
}

// TestRunnerCountsTheRFC1047Window: the server takes the message and the
// connection dies before its reply; the message is sent again (at least
// once) and the attempt is counted in doubt.
func TestRunnerCountsTheRFC1047Window(t *testing.T) {
	var drops atomic.Int32
	rec := &recorder{drop: func(d *delivery) bool { return drops.Add(1) == 1 }}
	srv := newServer(t, rec)
	s := openSpool(t)
	enqueue(t, s, 1, 500)
	var rep reports
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), MinDelay: 5 * time.Millisecond, Report: rep.add}
	runUntil(t, r, "the entry to end", func() bool { return len(rep.all()) == 1 })
	got := rec.deliveries()
	if len(got) != 2 || !got[0].Dropped {
		t.Fatalf("deliveries %+v, want the dropped one and a second copy", got)
	}
	if st := r.Stats(); st.InDoubt != 1 || st.Delivered != 1 || st.Deferred != 1 {
		t.Errorf("Stats %+v, want 1 in doubt, 1 deferred, 1 delivered", st)
	}
	if e := rep.all()[0]; e.Doubts != 1 {
		t.Errorf("the entry's Doubts = %d, want 1", e.Doubts)
	}
}

// TestRunnerBounces: with Bounce, a failure is reported to the sender as
// an RFC 3464 notification from the null sender; never to the null
// sender itself, nor when the sender's DSN request says NEVER.
func TestRunnerBounces(t *testing.T) {
	rec := &recorder{rcpt: func(to string) error {
		if strings.HasPrefix(to, "nobody") {
			return smtpError(550, [3]int{5, 1, 1}, "no such user here")
		}
		return nil
	}}
	srv := newServer(t, rec)
	s := openSpool(t)
	ctx := testContext(t)
	msg := "From: Sender <sender1@x.test>\r\nSubject: the report\r\nMessage-ID: <m1@x.test>\r\n\r\nbody\r\n"
	if _, err := s.Enqueue(ctx, &smtpkit.Envelope{From: "sender1@x.test", To: []string{"ok@y.test", "nobody@y.test"},
		DSN: &smtpkit.DSN{EnvelopeID: "env-42"}}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, &smtpkit.Envelope{From: "", To: []string{"nobody1@y.test"}}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, &smtpkit.Envelope{From: "quiet@x.test", To: []string{"nobody2@y.test"},
		DSN: &smtpkit.DSN{Notify: []string{"NEVER"}}}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), Bounce: true, BounceFrom: "Postmaster <postmaster@x.test>"}
	for range 2 { // the failures, then the bounce they enqueued
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	if st := r.Stats(); st.Bounces != 1 || st.Failed != 3 {
		t.Fatalf("Stats %+v, want 3 failed and 1 bounce", st)
	}
	var bounce *delivery
	for _, d := range rec.deliveries() {
		if d.From == "" {
			if bounce != nil {
				t.Fatal("two bounces")
			}
			bounce = &d
		}
	}
	if bounce == nil || strings.Join(bounce.To, ",") != "sender1@x.test" {
		t.Fatalf("no bounce from <> to sender1@x.test among %+v", rec.deliveries())
	}
	m, err := mail.ReadMessage(bytes.NewReader(bounce.Data))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("From") != "Postmaster <postmaster@x.test>" || m.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Errorf("bounce headers %v", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("bounce Content-Type %q (%v), want multipart/report; report-type=delivery-status", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []string
	var bodies []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Type"))
		bodies = append(bodies, string(b))
	}
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "text/plain") || parts[1] != "message/delivery-status" || parts[2] != "text/rfc822-headers" {
		t.Fatalf("bounce parts %q, want text, message/delivery-status, text/rfc822-headers", parts)
	}
	for _, want := range []string{"Original-Envelope-Id: env-42", "Final-Recipient: rfc822; nobody@y.test", "Action: failed",
		"Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1 no such user here"} {
		if !strings.Contains(bodies[1], want) {
			t.Errorf("the delivery status lacks %q:\n%s", want, bodies[1])
		}
	}
	if strings.Contains(bodies[1], "ok@y.test") {
		t.Errorf("the delivery status names the recipient that was delivered:\n%s", bodies[1])
	}
	if !strings.Contains(bodies[2], "Message-ID: <m1@x.test>") || strings.Contains(bodies[2], "body") {
		t.Errorf("the quoted headers %q: want the headers without the body", bodies[2])
	}
	if len(listAll(t, s)) != 0 {
		t.Errorf("entries left: %+v", listAll(t, s))
	}
}

// TestTwoRunnersOneSpool: two Runners, each with a Spool of its own on one
// directory (as two processes would be), deliver every message exactly
// once between them.
func TestTwoRunnersOneSpool(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, rec)
	a := openSpool(t)
	b, err := outbox.OpenSpool(a.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const total = 400
	ctx, cancel := context.WithCancel(testContext(t))
	var wg sync.WaitGroup
	runners := []*outbox.Runner{
		{Store: a, Pool: newPool(t, srv.Addr), PollInterval: 5 * time.Millisecond},
		{Store: b, Pool: newPool(t, srv.Addr), PollInterval: 5 * time.Millisecond},
	}
	for _, r := range runners {
		wg.Go(func() { r.Run(ctx) })
	}
	for n := range total { // enqueued while they run, through both spools
		enqueue(t, []*outbox.Spool{a, b}[n%2], n, 300)
	}
	waitFor(t, "every message delivered", func() bool { return len(rec.deliveries()) >= total })
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	count := map[string]int{}
	for _, d := range rec.deliveries() {
		count[d.From]++
	}
	for n := range total {
		if c := count[fmt.Sprintf("sender%d@x.test", n)]; c != 1 {
			t.Errorf("message %d delivered %d times, want once", n, c)
		}
	}
	sa, sb := runners[0].Stats(), runners[1].Stats()
	if sa.Attempts+sb.Attempts != total {
		t.Errorf("%d + %d attempts, want %d in all", sa.Attempts, sb.Attempts, total)
	}
	t.Logf("runner a attempted %d, runner b %d", sa.Attempts, sb.Attempts)
}

// TestRunnerStreamsALargeMessage: a large message goes from the caller's
// reader into the spool and out to the server without being held in
// memory. OUTBOX_LARGE=1 makes it 1 GiB; by default it is 64 MiB.
func TestRunnerStreamsALargeMessage(t *testing.T) {
	size := int64(64 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	if lookupLarge() {
		size = 1 << 30
	}
	size -= size % int64(len(line)) // whole lines, so the size sent is the size stored
	rec := &recorder{discard: true}
	srv := newServer(t, rec)
	s := openSpool(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := s.Enqueue(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}},
		io.LimitReader(&lines{}, size)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("enqueueing %d MiB allocated %d MiB; want it streamed", size>>20, grew>>20)
	}
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), Report: func(e outbox.Entry) {
		if f := e.Failed(); len(f) > 0 {
			t.Errorf("the large message failed: %+v", f)
		}
	}}
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := r.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// The server's own reading (go-smtp) allocates in this process too,
	// about one buffer per chunk; the bound is far below the message.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(size/4) {
		t.Errorf("delivering %d MiB allocated %d MiB; want it streamed", size>>20, grew>>20)
	}
	if st := r.Stats(); st.Delivered != 1 || len(rec.deliveries()) != 1 {
		t.Errorf("Stats %+v, %d deliveries; want the message delivered", st, len(rec.deliveries()))
	}
}

// lookupLarge reports whether OUTBOX_LARGE asks for the 1 GiB run.
func lookupLarge() bool { return os.Getenv("OUTBOX_LARGE") != "" }

// lines is an endless message body of CRLF lines.
type lines struct{ at int }

const line = "0123456789 the quick brown fox jumps over the lazy dog 0123456789\r\n"

func (l *lines) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = line[l.at%len(line)]
		l.at++
	}
	return len(p), nil
}

// TestRunnerWakesOnEnqueue: a Run with nothing due sleeps, and an Enqueue
// through the same Spool wakes it; the poll interval is never waited for.
func TestRunnerWakesOnEnqueue(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, rec)
	s := openSpool(t)
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), PollInterval: time.Hour}
	runUntil(t, r, "50 messages enqueued one by one, each delivered", func() bool {
		for i := range 50 {
			time.Sleep(time.Millisecond) // the workers go back to sleep
			enqueue(t, s, i, 100)
			waitFor(t, "its delivery", func() bool { return len(rec.deliveries()) == i+1 })
		}
		return true
	})
}

// greet sends the greeting and answers EHLO with the extensions given.
func greet(c *smtptest.RawConn, exts ...string) bool {
	if c.Send("220 raw.test ESMTP") != nil {
		return false
	}
	if _, err := c.Expect("EHLO"); err != nil {
		return false
	}
	lines := []string{"250-raw.test"}
	for _, e := range exts {
		lines = append(lines, "250-"+e)
	}
	lines = append(lines, "250 8BITMIME")
	return c.Send(lines...) == nil
}

// TestRunnerSessionFailuresAreTransient: a 421 greeting, a 530 to MAIL
// (the session lacks a login, the message is fine) and a connection that
// closes in the middle of a large message are all retried later, and
// none is counted in doubt: nothing of the message can be on the server.
func TestRunnerSessionFailuresAreTransient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		script func(c *smtptest.RawConn)
		want   string // in LastError
	}{
		{"421 greeting", 500, func(c *smtptest.RawConn) {
			c.Send("421 4.3.2 too busy, come back later")
		}, "421"},
		{"530 to MAIL", 500, func(c *smtptest.RawConn) {
			if greet(c) {
				c.Expect("MAIL")
				c.Send("530 5.7.0 Authentication required")
				c.Expect("QUIT")
			}
		}, "530"},
		{"closed in the middle of the data", 32 << 20, func(c *smtptest.RawConn) {
			if !greet(c) {
				return
			}
			for _, step := range [][2]string{{"MAIL", "250 ok"}, {"RCPT", "250 ok"}, {"DATA", "354 go on"}} {
				if _, err := c.Expect(step[0]); err != nil {
					return
				}
				c.Send(step[1])
			}
			c.ReadLine() // a line of the message, then hang up
		}, "data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewRawServer(tc.script)
			defer srv.Close()
			s := openSpool(t)
			id := enqueue(t, s, 1, tc.size)
			r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr)}
			if err := r.Flush(testContext(t)); err != nil {
				t.Fatal(err)
			}
			e, err := s.Get(testContext(t), id)
			if err != nil {
				t.Fatalf("the entry is gone: %v", err)
			}
			if e.Attempts != 1 || e.Recipients[0].Status != outbox.Pending || !strings.Contains(e.LastError, tc.want) ||
				!e.NextAttempt.After(time.Now()) {
				t.Errorf("entry %+v: want one attempt, the recipient pending, %q in LastError, a retry later", e, tc.want)
			}
			if st := r.Stats(); st.Deferred != 1 || st.Failed != 0 || st.InDoubt != 0 {
				t.Errorf("Stats %+v, want 1 deferred, no failure, nothing in doubt", st)
			}
		})
	}
}
