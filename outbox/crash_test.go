package outbox_test

// Crash tests: runners and writers in child processes (this test binary,
// run again) killed with SIGKILL at chosen and random moments, against
// in-process smtptest servers; then every message is checked.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
)

// The environment of a child process.
const (
	childEnv   = "OUTBOX_TEST_CHILD" // the child's mode: enqueue, run or claim
	spoolEnv   = "OUTBOX_TEST_SPOOL"
	addrEnv    = "OUTBOX_TEST_ADDR"
	nameEnv    = "OUTBOX_TEST_NAME"  // the runner's EHLO name
	firstEnv   = "OUTBOX_TEST_FIRST" // enqueue: the first message number
	countEnv   = "OUTBOX_TEST_COUNT" // enqueue: how many
	crashIters = "OUTBOX_CRASH_ITERATIONS"
	crashSeed  = "OUTBOX_CRASH_SEED"
)

// crashSize is the size of crash-test message n: every fourth is large
// enough that a kill often lands while it is written or sent.
func crashSize(n int) int {
	if n%4 == 0 {
		return 512<<10 + n*1000
	}
	return 2000 + n
}

// crashRecipients are the recipients of crash-test message n.
func crashRecipients(n int) []string {
	if n%3 == 0 {
		return []string{fmt.Sprintf("a%d@y.test", n), fmt.Sprintf("b%d@y.test", n)}
	}
	return []string{fmt.Sprintf("a%d@y.test", n)}
}

func crashEnvelope(n int) *smtpkit.Envelope {
	return &smtpkit.Envelope{From: fmt.Sprintf("sender%d@x.test", n), To: crashRecipients(n)}
}

// childMain runs the child modes; its result is the exit code.
func childMain(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // never outlive a parent that died
	defer cancel()
	s, err := outbox.OpenSpool(os.Getenv(spoolEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	switch mode {
	case "enqueue":
		first, _ := strconv.Atoi(os.Getenv(firstEnv))
		count, _ := strconv.Atoi(os.Getenv(countEnv))
		for n := first; n < first+count; n++ {
			id, err := s.Enqueue(ctx, crashEnvelope(n), bytes.NewReader(message(n, crashSize(n))))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Printf("Q %d %s\n", n, id)
		}
		return 0
	case "run":
		opts := testOptions()
		opts.LocalName = os.Getenv(nameEnv)
		pool := &smtpkit.Pool{Addr: os.Getenv(addrEnv), Dialer: &smtpkit.Dialer{Options: opts}, MaxConns: 2}
		r := &outbox.Runner{Store: s, Pool: pool, MinDelay: 5 * time.Millisecond, MaxDelay: 40 * time.Millisecond,
			PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(os.Stdout, nil)),
			Report: func(e outbox.Entry) { fmt.Printf("F %s\n", e.ID) }}
		fmt.Println("R")
		r.Run(ctx)
		return 0
	case "claim":
		e, _, err := s.Claim(ctx, time.Minute)
		if err != nil || e == nil {
			fmt.Fprintln(os.Stderr, "nothing claimed", err)
			return 1
		}
		fmt.Printf("C %s\n", e.ID)
		<-ctx.Done()
		return 0
	}
	return 2
}

// child is a running child process and the lines it printed.
type child struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{} // closed when its output has been read to the end
	mu    sync.Mutex
	out   []string
	err   bytes.Buffer
}

// startChild starts this test binary in mode, with env added.
func startChild(t testing.TB, mode string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	c := &child{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	cmd.Stderr = &c.err
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.mu.Lock()
			c.out = append(c.out, sc.Text())
			c.mu.Unlock()
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
	}()
	return c
}

// expect waits for a line starting with prefix.
func (c *child) expect(t testing.TB, prefix string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-c.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-c.done:
			t.Fatalf("the child ended without printing %q; stderr: %s", prefix, c.err.String())
		case <-timeout:
			t.Fatalf("the child did not print %q", prefix)
		}
	}
}

// kill sends SIGKILL, waits for the process and returns when it died, with
// every line it printed.
func (c *child) kill() (time.Time, []string) {
	c.cmd.Process.Kill()
	<-c.done
	c.cmd.Wait()
	died := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return died, slices.Clone(c.out)
}

// TestCrashLeaseEndsWithHolder: an entry held by a process that is killed
// is free at once; no timeout needs to pass.
func TestCrashLeaseEndsWithHolder(t *testing.T) {
	s := openSpool(t)
	id := enqueue(t, s, 1, 100)
	c := startChild(t, "claim", spoolEnv+"="+s.Dir())
	if line := c.expect(t, "C "); line != "C "+id {
		t.Fatalf("the child claimed %q, want %s", line, id)
	}
	time.Sleep(60 * time.Millisecond) // past the rescan pause
	if e, _, err := s.Claim(testContext(t), time.Minute); e != nil || err != nil {
		t.Fatalf("claimed %+v (%v) while the child held it", e, err)
	}
	c.kill()
	time.Sleep(60 * time.Millisecond)
	e, _, err := s.Claim(testContext(t), time.Minute)
	if err != nil || e == nil || e.ID != id {
		t.Fatalf("Claim after the holder was killed: %+v, %v; want %s", e, err, id)
	}
	s.Release(testContext(t), e)
}

// trap holds the server at one point of a transfer until the test has
// killed the runner.
type trap struct {
	mu      sync.Mutex
	armed   string // "mid-data", "after-dot" or ""
	hit     chan struct{}
	release chan struct{}
}

// arm sets the trap at point; hit is closed when a transfer reaches it,
// and the transfer waits there until release is closed.
func (tr *trap) arm(point string) (hit, release chan struct{}) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.armed, tr.hit, tr.release = point, make(chan struct{}), make(chan struct{})
	return tr.hit, tr.release
}

func (tr *trap) disarm() {
	tr.mu.Lock()
	tr.armed = ""
	tr.mu.Unlock()
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
	case <-time.After(10 * time.Second):
	}
}

// doubt is an attempt a runner logged as in doubt: the message was read
// to its end and no reply to it was heard.
type doubt struct {
	id string
	at time.Time
}

// doubts returns the in-doubt attempts among the JSON log lines of a Runner.
func doubts(lines []string) []doubt {
	var out []doubt
	for _, l := range lines {
		var rec struct {
			Time    time.Time `json:"time"`
			Msg     string    `json:"msg"`
			ID      string    `json:"id"`
			InDoubt bool      `json:"in_doubt"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "outbox: deferred" && rec.InDoubt {
			out = append(out, doubt{rec.ID, rec.Time})
		}
	}
	return out
}

// syncLines collects the lines a logger writes, from any goroutine.
type syncLines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncLines) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Split(w.b.String(), "\n")
}

// crashTotal is how many messages each crash iteration queues.
const crashTotal = 12

var senderRE = regexp.MustCompile(`^sender(\d+)@x\.test$`)

// crashIterations is how many iterations a crash test runs: a few by
// default, as many as OUTBOX_CRASH_ITERATIONS says in a long run.
func crashIterations(t *testing.T, def int) int {
	if v := os.Getenv(crashIters); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive number", crashIters, v)
		}
		return n
	}
	if testing.Short() {
		return 2
	}
	return def
}

func crashRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeed); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("%s=%d", crashSeed, seed)
	return rand.New(rand.NewPCG(seed, seed))
}

// TestCrashAnywhere kills writers and runners at random moments, in the
// middle of the data and just after its end, over many iterations (set
// OUTBOX_CRASH_ITERATIONS for a long run), with a server that now and
// then answers 451 or drops the connection after the data. Then it checks
// that every message queued was delivered, intact, to every recipient;
// that a message arrived twice only after a copy whose reply no live
// runner heard (the RFC 1047 window: the server dropped the connection, a
// runner logged the attempt in doubt, or the runner that sent it was
// killed before it reported the entry finished, and before the second copy
// came); and that nothing is left.
func TestCrashAnywhere(t *testing.T) {
	iterations := crashIterations(t, 12)
	rng := crashRand(t)
	var kills, inDoubt int
	causes := map[string]int{}
	for it := range iterations {
		k, n := crashIteration(t, it, rng, causes)
		kills, inDoubt = kills+k, inDoubt+n
		if t.Failed() {
			t.Fatalf("iteration %d failed", it)
		}
	}
	t.Logf("%d iterations, %d messages each: %d runners or writers killed; second copies: %d after a reply the server dropped, "+
		"%d after another attempt in doubt (replies lost with the connection), %d after their runner was killed; "+
		"%d attempts in doubt in the final runs",
		iterations, crashTotal, kills, causes["dropped"], causes["doubt"], causes["killed"], inDoubt)
}

func crashIteration(t *testing.T, it int, rng *rand.Rand, causes map[string]int) (kills, inDoubt int) {
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := outbox.OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := &trap{}
	var mu sync.Mutex
	seen := 0
	rec := &recorder{
		reading: func(d *delivery, read int64) {
			if read > 128<<10 {
				tr.spring("mid-data")
			}
		},
		data: func(d *delivery) error {
			tr.spring("after-dot")
			mu.Lock()
			seen++
			n := seen
			mu.Unlock()
			if n%7 == 3 {
				return smtpError(451, [3]int{4, 3, 0}, "try again later")
			}
			return nil
		},
		drop: func(d *delivery) bool {
			mu.Lock()
			defer mu.Unlock()
			return seen%11 == 5
		},
	}
	srv := newServer(t, rec)
	const total = crashTotal
	var killTimes []time.Time
	must := map[int]bool{} // queued for sure: Enqueue returned an ID

	// A writer killed while it enqueues half of the messages.
	w := startChild(t, "enqueue", spoolEnv+"="+dir, firstEnv+"=0", countEnv+"="+strconv.Itoa(total/2))
	time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
	died, lines := w.kill()
	killTimes = append(killTimes, died)
	kills++
	for _, l := range lines {
		var n int
		var id string
		if _, err := fmt.Sscanf(l, "Q %d %s", &n, &id); err == nil {
			must[n] = true
		}
	}
	for n := total / 2; n < total; n++ {
		if _, err := s.Enqueue(testContext(t), crashEnvelope(n), bytes.NewReader(message(n, crashSize(n)))); err != nil {
			t.Fatal(err)
		}
		must[n] = true
	}

	// Which message each entry holds, to read the runners' logs.
	numbers := map[string]int{}
	for _, e := range listAll(t, s) {
		if m := senderRE.FindStringSubmatch(e.Envelope.From); m != nil {
			numbers[e.ID], _ = strconv.Atoi(m[1])
		}
	}
	var doubted []doubt
	killed := map[string]time.Time{}      // runner name: when it was killed
	finished := map[string]map[int]bool{} // runner name: the messages it reported finished

	// Runners killed at random moments, in the middle of the data, and
	// just after its end; now one runner, now two racing.
	points := []string{"random", "mid-data", "after-dot", "random"}
	rng.Shuffle(len(points), func(i, j int) { points[i], points[j] = points[j], points[i] })
	for round, point := range points {
		n := 1 + rng.IntN(2)
		var runners []*child
		for i := range n {
			runners = append(runners, startChild(t, "run", spoolEnv+"="+dir, addrEnv+"="+srv.Addr,
				nameEnv+"="+fmt.Sprintf("it%d-round%d-runner%d", it, round, i)))
		}
		var release chan struct{}
		if point == "random" {
			runners[0].expect(t, "R")
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		} else {
			var hit chan struct{}
			hit, release = tr.arm(point)
			select {
			case <-hit:
			case <-time.After(3 * time.Second): // nothing left to send
			}
		}
		for i, c := range runners {
			died, lines := c.kill()
			killTimes = append(killTimes, died)
			kills++
			doubted = append(doubted, doubts(lines)...)
			name := fmt.Sprintf("it%d-round%d-runner%d", it, round, i)
			killed[name] = died
			finished[name] = map[int]bool{}
			for _, l := range lines {
				if id, ok := strings.CutPrefix(l, "F "); ok {
					finished[name][numbers[id]] = true
				}
			}
		}
		tr.disarm()
		if release != nil {
			close(release)
		}
	}

	// What is left goes out in this process, with a server that behaves
	// now and then oddly still.
	var log syncLines
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), MinDelay: 5 * time.Millisecond, MaxDelay: 40 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&log, nil))}
	deadline := time.Now().Add(30 * time.Second)
	for len(listAll(t, s)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("iteration %d: entries still queued after 30s: %+v", it, listAll(t, s))
		}
		if err := r.Flush(testContext(t)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	inDoubt = int(r.Stats().InDoubt)
	doubted = append(doubted, doubts(log.lines())...)
	if f := r.Stats().Failed; f != 0 {
		t.Errorf("iteration %d: %d recipients failed; the server refuses nobody for good", it, f)
	}

	// Every delivery is one of the messages, intact.
	type key struct {
		n    int
		rcpt string
	}
	copies := map[key][]delivery{}
	for _, d := range rec.deliveries() {
		m := senderRE.FindStringSubmatch(d.From)
		if m == nil {
			t.Errorf("iteration %d: a delivery from %q, which no test message has", it, d.From)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if !bytes.Equal(d.Data, message(n, crashSize(n))) {
			t.Errorf("iteration %d: message %d arrived damaged: %d bytes, want %d", it, n, len(d.Data), crashSize(n))
		}
		for _, to := range d.To {
			if !slices.Contains(crashRecipients(n), to) {
				t.Errorf("iteration %d: message %d went to %s", it, n, to)
			}
			copies[key{n, to}] = append(copies[key{n, to}], d)
		}
	}
	// Every message queued for sure reached each recipient at least once.
	for n := range total {
		for _, to := range crashRecipients(n) {
			if must[n] && len(copies[key{n, to}]) == 0 {
				t.Errorf("iteration %d: message %d, queued, never reached %s", it, n, to)
			}
		}
	}
	// A second copy follows a copy whose reply no live runner heard.
	for k, cs := range copies {
		slices.SortFunc(cs, func(a, b delivery) int { return a.Dot.Compare(b.Dot) })
		for i := 1; i < len(cs); i++ {
			prev, next := cs[i-1], cs[i]
			// The first explanation that holds names the cause.
			explained := ""
			if prev.Dropped {
				explained = "dropped" // the server closed the connection instead of answering
			}
			for _, d := range doubted {
				if explained == "" && numbers[d.id] == k.n && d.at.After(prev.Dot) && d.at.Before(next.Dot) {
					explained = "doubt" // the runner heard no reply to the data
				}
			}
			if died, ok := killed[prev.Helo]; explained == "" && ok && died.Before(next.Dot) && !finished[prev.Helo][k.n] {
				explained = "killed" // its runner died before it recorded the reply
			}
			causes[explained]++
			if explained == "" {
				t.Errorf("iteration %d: message %d reached %s twice (from %s at %v, then from %s at %v) "+
					"with neither a dropped reply, nor an attempt in doubt, nor its runner killed before it finished the entry",
					it, k.n, k.rcpt, prev.Helo, prev.Dot.Format(time.StampMicro), next.Helo, next.Dot.Format(time.StampMicro))
			}
		}
	}
	// Nothing is left: no entry, and in tmp/ only what killed writers left,
	// which nobody holds and the next open of an old enough spool removes.
	if names := dirNames(t, filepath.Join(dir, "queue")); len(names) != 0 {
		t.Errorf("iteration %d: queue/ still holds %q", it, names)
	}
	past := time.Now().Add(-2 * time.Minute)
	for _, name := range dirNames(t, filepath.Join(dir, "tmp")) {
		os.Chtimes(filepath.Join(dir, "tmp", name), past, past)
	}
	s2, err := outbox.OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if names := dirNames(t, filepath.Join(dir, "tmp")); len(names) != 0 {
		t.Errorf("iteration %d: tmp/ still holds %q once cleaned", it, names)
	}
	return kills, inDoubt
}

// TestTwoProcessesOneSpool: two runner processes on one spool deliver
// every message exactly once between them (no kill, no dropped reply:
// nothing may arrive twice).
func TestTwoProcessesOneSpool(t *testing.T) {
	s := openSpool(t)
	const total = 300
	for n := range total {
		enqueue(t, s, n, 500)
	}
	rec := &recorder{data: func(d *delivery) error {
		time.Sleep(time.Millisecond) // long enough that both runners get their share
		return nil
	}}
	srv := newServer(t, rec)
	var runners []*child
	for i := range 2 {
		runners = append(runners, startChild(t, "run", spoolEnv+"="+s.Dir(), addrEnv+"="+srv.Addr,
			nameEnv+"="+fmt.Sprintf("runner%d", i)))
	}
	waitFor(t, "every message delivered", func() bool { return len(rec.deliveries()) >= total })
	time.Sleep(100 * time.Millisecond) // time for a second copy to show up, if any would
	for _, c := range runners {
		c.kill()
	}
	by := map[string]int{}
	got := map[string]int{}
	for _, d := range rec.deliveries() {
		got[d.From]++
		by[d.Helo]++
	}
	for n := range total {
		if c := got[fmt.Sprintf("sender%d@x.test", n)]; c != 1 {
			t.Errorf("message %d delivered %d times, want once", n, c)
		}
	}
	if es := listAll(t, s); len(es) != 0 {
		t.Errorf("%d entries left", len(es))
	}
	t.Logf("runner0 delivered %d, runner1 %d", by["runner0"], by["runner1"])
}
