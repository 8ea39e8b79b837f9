package postgres_test

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/outbox/postgres"
)

// longEnv asks for the long versions of the worker tests.
const longEnv = "OUTBOX_PG_LONG"

func long() bool { return os.Getenv(longEnv) != "" }

// workerSize is the size of message n in the worker tests: every 100th is
// long enough to be streamed in chunks.
func workerSize(n int) int {
	if n%100 == 42 {
		return postgres.ChunkSize + 1000 + n
	}
	return 300 + n%1500
}

// enqueueAll enqueues messages first..first+count-1, in transactions of
// 100 through EnqueueTx.
func enqueueAll(t *testing.T, d *database, s *postgres.Store, first, count int) {
	t.Helper()
	ctx := testContext(t)
	for from := first; from < first+count; from += 100 {
		tx, err := d.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for n := from; n < min(from+100, first+count); n++ {
			if _, err := s.EnqueueTx(ctx, tx, envelope(n), bytes.NewReader(message(n, workerSize(n)))); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestThreeWorkerProcesses: three runner processes on one outbox and a
// flaky server deliver every message of a few thousand, each exactly once
// but for the copies the RFC 1047 window explains, which are counted: the
// server took the message and then closed the connection instead of
// answering it, or of answering another message after it (a pipelined
// reply not read yet is lost with the connection). Set OUTBOX_PG_LONG=1
// for ten thousand.
func TestThreeWorkerProcesses(t *testing.T) {
	total := 2000
	if long() {
		total = 10000
	}
	d := newDatabase(t)
	s := d.store(t, nil)
	var mu sync.Mutex
	tries := map[string]int{} // by what was tried: "rcpt n", "mail n", "data n"
	try := func(what string, n int) int {
		mu.Lock()
		defer mu.Unlock()
		k := fmt.Sprint(what, " ", n)
		tries[k]++
		return tries[k]
	}
	srv := newServer(t, func(s *server) {
		s.rcpt = func(to string) error {
			var n int
			fmt.Sscanf(to, "rcpt%d@", &n)
			if n%17 == 5 && try("rcpt", n) == 1 {
				return smtpError(451, [3]int{4, 2, 1}, "mailbox busy, try again")
			}
			return nil
		}
		s.data = func(dl *delivery) error {
			n, _ := senderNumber(dl.From)
			if n%13 == 7 && try("data", n) == 1 {
				return smtpError(451, [3]int{4, 3, 0}, "queue full, try again")
			}
			return nil
		}
		s.drop = func(dl *delivery) bool {
			n, _ := senderNumber(dl.From)
			return n%97 == 3 && try("drop", n) == 1
		}
	})
	var workers []*child
	for i := range 3 {
		workers = append(workers, startChild(t, "run", runnerEnv(d, srv, fmt.Sprintf("worker%d", i))...))
	}
	for _, w := range workers {
		w.expect(t, "R")
	}
	start := time.Now()
	enqueueAll(t, d, s, 0, total)
	delivered := func() map[int]int {
		got := map[int]int{}
		for _, dl := range srv.deliveries() {
			n, _ := senderNumber(dl.From)
			got[n]++
		}
		return got
	}
	patience := time.Minute
	if long() {
		patience = 5 * time.Minute
	}
	waitFor(t, "every message delivered", patience, func() bool { return len(delivered()) == total })
	waitFor(t, "the outbox emptied", 30*time.Second, func() bool { return len(listAll(t, s)) == 0 })
	elapsed := time.Since(start)
	time.Sleep(200 * time.Millisecond) // time for a second copy to show up, if any would
	var doubted []string
	for _, w := range workers {
		doubted = append(doubted, inDoubt(w.kill())...)
	}

	byWorker := map[string]int{}
	copies := map[int][]delivery{}
	for _, dl := range srv.deliveries() {
		n, ok := senderNumber(dl.From)
		if !ok || n < 0 || n >= total {
			t.Errorf("a delivery from %q, which no test message has", dl.From)
			continue
		}
		if !bytes.Equal(dl.Data, message(n, workerSize(n))) || len(dl.To) != 1 || dl.To[0] != envelope(n).To[0] {
			t.Errorf("message %d arrived damaged or misaddressed: %d bytes to %v", n, len(dl.Data), dl.To)
		}
		copies[n] = append(copies[n], dl)
		byWorker[dl.Helo]++
	}
	drops, seconds := 0, 0
	for n := range total {
		cs := copies[n]
		if len(cs) == 0 {
			t.Errorf("message %d was never delivered", n)
			continue
		}
		slices.SortFunc(cs, func(a, b delivery) int { return a.At.Compare(b.At) })
		for i, c := range cs {
			if c.Dropped {
				drops++
			}
			if i == 0 {
				continue
			}
			seconds++
			if prev := cs[i-1]; !prev.Dropped && !srv.droppedConn(prev.Conn) {
				t.Errorf("message %d arrived %d times; copy %d followed one whose reply the server sent on a connection it kept (from %s, then %s)",
					n, len(cs), i+1, prev.Helo, c.Helo)
			}
		}
	}
	for i := range 3 {
		if byWorker[fmt.Sprintf("worker%d", i)] == 0 {
			t.Errorf("worker%d delivered nothing: %v", i, byWorker)
		}
	}
	t.Logf("%d messages in %v through 3 worker processes %v; %d replies dropped after the data (RFC 1047), "+
		"%d second copies, %d attempts logged in doubt", total, elapsed.Round(time.Millisecond), byWorker, drops, seconds, len(doubted))
}

// trap holds the server at one point of a transfer until the test has
// killed the runner.
type trap struct {
	mu      sync.Mutex
	armed   string // "mid-data", "after-dot" or ""
	hit     chan struct{}
	release chan struct{}
}

func (tr *trap) arm(point string) (hit, release chan struct{}) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.armed, tr.hit, tr.release = point, make(chan struct{}), make(chan struct{})
	return tr.hit, tr.release
}

// spring is called by the server at point.
func (tr *trap) spring(point string) {
	tr.mu.Lock()
	if tr.armed != point {
		tr.mu.Unlock()
		return
	}
	tr.armed = ""
	hit, release := tr.hit, tr.release
	tr.mu.Unlock()
	close(hit)
	select {
	case <-release:
	case <-time.After(20 * time.Second):
	}
}

// TestWorkerKilledMidDelivery: a runner process killed with SIGKILL in
// the middle of a message's data, and another just after the end of the
// data (the server takes the message, and nobody hears its reply), lose
// nothing: another process takes their entries over at once, though
// their leases had an hour to go, and delivers every message. A message
// arrives twice only when the server took it from a runner that was
// killed before it could record so.
func TestWorkerKilledMidDelivery(t *testing.T) {
	const total = 40
	d := newDatabase(t)
	s := d.store(t, nil)
	tr := &trap{}
	srv := newServer(t, func(s *server) {
		s.reading = func(dl *delivery, read int64) {
			if read > 128<<10 {
				tr.spring("mid-data")
			}
		}
		s.data = func(dl *delivery) error {
			tr.spring("after-dot")
			return nil
		}
	})
	size := func(n int) int {
		if n%5 == 0 {
			return 3*postgres.ChunkSize + n // long enough to be caught in its middle
		}
		return 500 + n
	}
	for n := range total {
		if _, err := s.Enqueue(testContext(t), envelope(n), bytes.NewReader(message(n, size(n)))); err != nil {
			t.Fatal(err)
		}
	}
	killed := map[string]map[string]bool{} // runner name: the entries it reported finished
	ids := map[string]int{}
	for _, e := range listAll(t, s) {
		n, _ := senderNumber(e.Envelope.From)
		ids[e.ID] = n
	}
	for _, point := range []string{"mid-data", "after-dot"} {
		name := "killed-" + point
		hit, release := tr.arm(point)
		c := startChild(t, "run", runnerEnv(d, srv, name)...)
		select {
		case <-hit:
		case <-time.After(30 * time.Second):
			t.Fatalf("no transfer reached %s", point)
		}
		killed[name] = finished(c.kill())
		close(release)
		if held := leased(t, s); held == 0 {
			t.Errorf("after the runner was killed %s, no entry is leased: it died without holding any", point)
		}
	}

	final := startChild(t, "run", runnerEnv(d, srv, "final")...)
	final.expect(t, "R")
	waitFor(t, "the outbox emptied", time.Minute, func() bool { return len(listAll(t, s)) == 0 })
	final.kill()

	copies := map[int][]delivery{}
	for _, dl := range srv.deliveries() {
		n, ok := senderNumber(dl.From)
		if !ok || !bytes.Equal(dl.Data, message(n, size(n))) {
			t.Errorf("a delivery from %q of %d bytes, which is no test message", dl.From, len(dl.Data))
			continue
		}
		copies[n] = append(copies[n], dl)
	}
	seconds := 0
	for n := range total {
		cs := copies[n]
		if len(cs) == 0 {
			t.Errorf("message %d was lost", n)
			continue
		}
		slices.SortFunc(cs, func(a, b delivery) int { return a.At.Compare(b.At) })
		for i := 1; i < len(cs); i++ {
			seconds++
			prev := cs[i-1]
			done, wasKilled := killed[prev.Helo]
			if !wasKilled || done[idOf(ids, n)] {
				t.Errorf("message %d arrived twice, the first copy from %s, which was not killed before it finished the entry", n, prev.Helo)
			}
		}
	}
	t.Logf("%d messages, 2 runners killed (mid-data, after the dot), %d second copies from a killed runner's message", total, seconds)
}

// leased counts the entries held by a runner.
func leased(t *testing.T, s *postgres.Store) int {
	n := 0
	for _, e := range listAll(t, s) {
		if e.Leased {
			n++
		}
	}
	return n
}

// idOf returns the ID of the entry of message n.
func idOf(ids map[string]int, n int) string {
	for id, m := range ids {
		if m == n {
			return id
		}
	}
	return ""
}

// TestRateLimitAcrossWorkers: three runner processes sharing a Limit of
// messages per second and of connections stay within it together, as the
// server counts: messages accepted in any one-second window, and
// connections open at once.
func TestRateLimitAcrossWorkers(t *testing.T) {
	const perSecond, burst, maxConns = 25, 1, 2
	total := 75
	if long() {
		total = 300
	}
	d := newDatabase(t)
	s := d.store(t, nil)
	srv := newServer(t, nil)
	limit := fmt.Sprintf("%s=%d,%d,%d", limitEnv, perSecond, burst, maxConns)
	var workers []*child
	for i := range 3 {
		workers = append(workers, startChild(t, "run", runnerEnv(d, srv, fmt.Sprintf("worker%d", i), limit, idleEnv+"=200ms")...))
	}
	for _, w := range workers {
		w.expect(t, "R")
	}
	enqueueAll(t, d, s, 0, total)
	waitFor(t, "every message delivered", 2*time.Minute, func() bool { return srv.count() >= total })
	waitFor(t, "the outbox emptied", 30*time.Second, func() bool { return len(listAll(t, s)) == 0 })
	spans := srv.ln.spans()
	deferred := 0
	for _, w := range workers {
		for _, l := range w.kill() {
			if strings.Contains(l, `"msg":"outbox: deferred"`) {
				deferred++
			}
		}
	}

	got := srv.deliveries()
	seen := map[int]int{}
	byWorker := map[string]int{}
	var times []time.Time
	for _, dl := range got {
		n, _ := senderNumber(dl.From)
		seen[n]++
		byWorker[dl.Helo]++
		times = append(times, dl.At)
	}
	for n := range total {
		if seen[n] != 1 {
			t.Errorf("message %d delivered %d times, want once", n, seen[n])
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	// The most messages the server accepted within one second. A token is
	// taken as a message is claimed, and the Runner sends it at once,
	// unless its connection waits for a slot: each of the runners' 6
	// workers (3 processes, Pool.MaxConns 2) may hold one such message,
	// which may go out later than its token says.
	most := 0
	for i := range times {
		j := i
		for j < len(times) && times[j].Sub(times[i]) < time.Second {
			j++
		}
		most = max(most, j-i)
	}
	allowed := perSecond + burst + 3*2
	if most > allowed {
		t.Errorf("the server accepted %d messages within one second; the limit is %d per second (burst %d), %d with the messages waiting for a connection",
			most, perSecond, burst, allowed)
	}
	if peak := peakConns(spans); peak > maxConns {
		t.Errorf("the server had %d connections open at once; the limit is %d", peak, maxConns)
	}
	t.Logf("%d messages through 3 processes %v: at most %d accepted within a second (limit %d/s), %d connections in all, "+
		"at most %d at once (limit %d); %d attempts deferred (a connection slot not free within the connect timeout)",
		total, byWorker, most, perSecond, len(spans), peakConns(spans), maxConns, deferred)
}
