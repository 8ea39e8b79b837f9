package postgres_test

// Worker processes: this test binary, run again in a child mode, against
// the parent's database schema and SMTP server.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/outbox/postgres"
)

// The environment of a child process.
const (
	childEnv = "OUTBOX_PG_TEST_CHILD" // its mode: run or claim
	dbEnv    = "OUTBOX_PG_TEST_DB"    // the URL of the test's schema
	addrEnv  = "OUTBOX_PG_TEST_ADDR"  // the SMTP server
	nameEnv  = "OUTBOX_PG_TEST_NAME"  // the runner's EHLO name
	limitEnv = "OUTBOX_PG_TEST_LIMIT" // per second, burst, max conns: "30,1,2"
	idleEnv  = "OUTBOX_PG_TEST_IDLE"  // the Pool's IdleTimeout
)

// childLease is the lease of the child runners: far longer than any test,
// so an entry of a child that was killed comes back because its holder
// died, not because its lease ran out.
const childLease = time.Hour

// childMain runs the child modes; its result is the exit code.
func childMain(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // never outlive a parent that died
	defer cancel()
	db, err := pgxpool.New(ctx, os.Getenv(dbEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer db.Close()
	var opts postgres.Options
	if v := os.Getenv(limitEnv); v != "" {
		var l postgres.Limit
		if _, err := fmt.Sscanf(v, "%g,%d,%d", &l.PerSecond, &l.Burst, &l.MaxConns); err != nil {
			fmt.Fprintln(os.Stderr, limitEnv, err)
			return 2
		}
		l.Destination = os.Getenv(addrEnv)
		opts.Limit = l
	}
	s, err := postgres.New(ctx, db, &opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	switch mode {
	case "run":
		o := testOptions()
		o.LocalName = os.Getenv(nameEnv)
		o.Dialer = s.Dialer(nil)
		pool := &smtpkit.Pool{Addr: os.Getenv(addrEnv), Dialer: &smtpkit.Dialer{Options: o}, MaxConns: 2}
		if v := os.Getenv(idleEnv); v != "" {
			pool.IdleTimeout, _ = time.ParseDuration(v)
		}
		defer pool.Close(context.Background())
		var out sync.Mutex
		r := &outbox.Runner{Store: s, Pool: pool, MinDelay: 5 * time.Millisecond, MaxDelay: 40 * time.Millisecond,
			Lease: childLease, PollInterval: 2 * time.Second, Logger: slog.New(slog.NewJSONHandler(&lockedWriter{mu: &out, w: os.Stdout}, nil)),
			Report: func(e outbox.Entry) {
				out.Lock()
				fmt.Printf("F %s\n", e.ID)
				out.Unlock()
			}}
		out.Lock()
		fmt.Println("R")
		out.Unlock()
		r.Run(ctx)
		return 0
	case "claim":
		e, _, err := s.Claim(ctx, childLease)
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

// lockedWriter serialises the lines of a logger and of Report.
type lockedWriter struct {
	mu *sync.Mutex
	w  *os.File
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
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

// startChild starts this test binary in mode, with env added; the test
// kills it when it ends.
func startChild(t testing.TB, mode string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	c := &child{cmd: cmd, lines: make(chan string, 10000), done: make(chan struct{})}
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
		sc.Buffer(make([]byte, 64<<10), 1<<20)
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
	t.Cleanup(func() { c.kill() })
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

// kill sends SIGKILL, waits for the process and returns every line it
// printed.
func (c *child) kill() []string {
	c.cmd.Process.Kill()
	<-c.done
	c.cmd.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.out)
}

// runnerEnv is the environment of a child runner named name.
func runnerEnv(d *database, srv *server, name string, extra ...string) []string {
	return append([]string{dbEnv + "=" + d.url, addrEnv + "=" + srv.Addr, nameEnv + "=" + name}, extra...)
}

// logLine is a line of a Runner's JSON log.
type logLine struct {
	Time    time.Time `json:"time"`
	Msg     string    `json:"msg"`
	ID      string    `json:"id"`
	InDoubt bool      `json:"in_doubt"`
}

// inDoubt returns the IDs of the entries whose attempts a runner logged in
// doubt (the message went out whole and no reply came: RFC 1047).
func inDoubt(lines []string) []string {
	var out []string
	for _, l := range lines {
		var rec logLine
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "outbox: deferred" && rec.InDoubt {
			out = append(out, rec.ID)
		}
	}
	return out
}

// finished returns the IDs a child runner reported finished.
func finished(lines []string) map[string]bool {
	out := map[string]bool{}
	for _, l := range lines {
		if id, ok := strings.CutPrefix(l, "F "); ok {
			out[id] = true
		}
	}
	return out
}

// senderNumber returns n of "sender<n>@x.test".
func senderNumber(from string) (int, bool) {
	s, ok := strings.CutPrefix(from, "sender")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "@x.test")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
