package main

// Tests of the queue on the command line: sendmail -odq, -q and -bp, and
// the queue commands, each checked on the wire (what the server received)
// and on disk (what the spool holds).

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/config"
	"github.com/smtpkit/smtpkit/smtptest"
)

// Special replies of a flaky server.
const (
	closeConn = "close" // close the connection without a reply
	stall     = "stall" // to DATA: 354, read the first line of the message, then wait for the client to go
)

// flaky is a plaintext server without PIPELINING whose replies the test
// decides command by command: reply(conn, verb, arg) returns the reply
// ("" for the default: 220, 250, 354 to DATA), closeConn or stall; conn
// counts the connections from 1, verb "." is the end of the data with the
// data as arg. It records the data of every message it accepted.
type flaky struct {
	*smtptest.RawServer
	mu       sync.Mutex
	conns    int
	reply    func(conn int, verb, arg string) string
	messages []string
	stalled  chan struct{}
}

func newFlaky(t *testing.T, reply func(conn int, verb, arg string) string) *flaky {
	t.Helper()
	f := &flaky{reply: reply, stalled: make(chan struct{})}
	var once sync.Once
	f.RawServer = smtptest.NewRawServer(func(c *smtptest.RawConn) {
		f.mu.Lock()
		f.conns++
		n := f.conns
		f.mu.Unlock()
		say := func(verb, arg, def string) string {
			f.mu.Lock()
			defer f.mu.Unlock()
			if r := f.reply(n, verb, arg); r != "" {
				return r
			}
			return def
		}
		if g := say("greeting", "", "220 flaky.test ESMTP"); c.Send(g) != nil || !strings.HasPrefix(g, "220") {
			c.WaitClose()
			return
		}
		for {
			line, err := c.ReadLine()
			if err != nil {
				return
			}
			verb, arg, _ := strings.Cut(line, " ")
			verb = strings.ToUpper(verb)
			switch verb {
			case "QUIT":
				c.Send("221 2.0.0 bye")
				return
			case "EHLO":
				c.Send(say(verb, arg, "250-flaky.test\r\n250 ENHANCEDSTATUSCODES"))
			case "DATA":
				r := say(verb, arg, "354 go ahead")
				if r == stall {
					c.Send("354 go ahead")
					c.ReadLine()
					once.Do(func() { close(f.stalled) })
					c.Timeout = time.Minute
					c.WaitClose()
					return
				}
				c.Send(r)
				if !strings.HasPrefix(r, "354") {
					continue
				}
				var data []string
				for {
					l, err := c.ReadLine()
					if err != nil {
						return
					}
					if l == "." {
						break
					}
					data = append(data, l)
				}
				msg := strings.Join(data, "\r\n")
				r = say(".", msg, "250 2.0.0 queued")
				if r == closeConn {
					return
				}
				if strings.HasPrefix(r, "2") {
					f.mu.Lock()
					f.messages = append(f.messages, msg)
					f.mu.Unlock()
				}
				c.Send(r)
			default:
				r := say(verb, arg, "250 2.0.0 ok")
				if r == closeConn {
					return
				}
				c.Send(r)
			}
		}
	})
	t.Cleanup(f.Close)
	return f
}

// taken returns the data of the messages the server accepted.
func (f *flaky) taken() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.messages)
}

// entries returns the IDs in the spool dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(dir, "queue"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, de := range des {
		ids = append(ids, de.Name())
	}
	return ids
}

// userSpool is where execBin's runs keep an account's queue.
func userSpool(home, account string) string {
	return filepath.Join(home, ".local", "state", "smtpkit", "queue", account)
}

// TestSendmailQueueOnlyThenRun: -odq queues without a connection, -bp
// lists, -q sends, all silent as sendmail is.
func TestSendmailQueueOnlyThenRun(t *testing.T) {
	srv := plainServer(t)
	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	sendmail := func(stdin string, args ...string) execResult {
		return execBin(t, execOpts{name: "sendmail", home: home, stdin: stdin}, args...)
	}
	for i, mode := range [][]string{{"-odq"}, {"-odd"}, {"-O", "DeliveryMode=q"}} {
		r := sendmail("Subject: later "+string(rune('A'+i))+"\n\nbody\n", append(mode, "-i", "a@example.org")...)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("sendmail %q: want exit 0 and silence:\n%s", mode, r)
		}
	}
	if n := srv.Connections(); n != 0 {
		t.Fatalf("-odq made %d connections, want none", n)
	}
	r := sendmail("", "-bp")
	if r.code != 0 || strings.Count(r.stdout, "  from <robot@example.com> to a@example.org\n") != 3 {
		t.Fatalf("sendmail -bp:\n%s", r)
	}
	r = sendmail("", "-q")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("sendmail -q: want exit 0 and silence:\n%s", r)
	}
	got := srv.Messages()
	if len(got) != 3 {
		t.Fatalf("the server got %d messages, want 3", len(got))
	}
	for i, m := range got {
		if !strings.Contains(string(m.Data), "Subject: later ") || !strings.Contains(string(m.Data), "Message-ID: <") {
			t.Errorf("message %d:\n%s", i, m.Data)
		}
	}
	if ids := entries(t, userSpool(home, "default")); len(ids) != 0 {
		t.Errorf("the spool still holds %v", ids)
	}
	r = sendmail("", "-q", "-v")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to send (0 message(s) waiting)") {
		t.Errorf("sendmail -q -v on an empty queue:\n%s", r)
	}
}

// TestQueueCommandsJSON: list, show, retry and delete with --json, and
// their exit codes for an ID that is not there.
func TestQueueCommandsJSON(t *testing.T) {
	srv := plainServer(t)
	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	r := execBin(t, execOpts{home: home}, "queue", "list")
	if r.code != 0 || r.stdout != "Queue "+userSpool(home, "default")+": empty\n" || exists(userSpool(home, "default")) {
		t.Fatalf("queue list of an account that never queued: want it empty, and no directory made:\n%s", r)
	}
	r = execBin(t, execOpts{home: home}, "queue", "show", "18eba0d613d809f65671d973")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no such entry") {
		t.Fatalf("queue show with no queue: %s", r)
	}
	for _, subject := range []string{"first", "second"} {
		r := execBin(t, execOpts{name: "sendmail", home: home, stdin: "Subject: " + subject + "\nBcc: hidden@example.org\n\nbody\n"},
			"-odq", "-t", "a@example.org", "b@example.org")
		if r.code != 0 {
			t.Fatalf("%s", r)
		}
	}
	q := func(args ...string) execResult {
		return execBin(t, execOpts{home: home}, append([]string{"queue"}, args...)...)
	}

	r = q("list", "--json")
	list := decodeJSON[queueListJSON](t, r)
	if r.code != 0 || !list.OK || len(list.Spools) != 1 || list.Spools[0].Name != "default" ||
		list.Spools[0].Dir != userSpool(home, "default") || len(list.Spools[0].Entries) != 2 {
		t.Fatalf("queue list --json:\n%s", r)
	}
	first, second := list.Spools[0].Entries[0], list.Spools[0].Entries[1]
	if !first.Created.Before(second.Created) && !first.Created.Equal(second.Created) {
		t.Errorf("not oldest first: %v, %v", first.Created, second.Created)
	}
	want := []string{"a@example.org", "b@example.org", "hidden@example.org"}
	if !slices.Equal(first.To, want) || !slices.Equal(first.Pending, want) || first.Attempts != 0 || first.Size == 0 ||
		len(first.Recipients) != 3 || first.Recipients[0].Status != "pending" || first.From != "robot@example.com" {
		t.Errorf("the first entry: %+v", first)
	}

	r = q("show", "--json", first.ID)
	show := decodeJSON[queueShowJSON](t, r)
	if r.code != 0 || show.Entry == nil || show.Entry.ID != first.ID || !strings.Contains(show.Entry.Header, "Subject: first") ||
		strings.Contains(show.Entry.Header, "Bcc") || show.Spool != userSpool(home, "default") {
		t.Fatalf("queue show --json:\n%s", r)
	}
	r = q("show", first.ID)
	for _, w := range []string{"ID:           " + first.ID, "From:         <robot@example.com>", "  pending    a@example.org", "  | Subject: first"} {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Errorf("queue show lacks %q:\n%s", w, r)
		}
	}

	r = q("retry", "--json", second.ID)
	if id := decodeJSON[queueIDJSON](t, r); r.code != 0 || !id.OK || id.ID != second.ID || id.Command != "queue retry" {
		t.Errorf("queue retry --json:\n%s", r)
	}
	r = q("delete", "--json", first.ID)
	if id := decodeJSON[queueIDJSON](t, r); r.code != 0 || !id.OK || id.ID != first.ID {
		t.Errorf("queue delete --json:\n%s", r)
	}
	for _, verb := range []string{"show", "retry", "delete"} {
		r = q(verb, "--json", first.ID)
		id := decodeJSON[map[string]any](t, r)
		if r.code != exitUsage || id["ok"] != false || id["error"] == nil || !strings.Contains(r.stdout, "no such entry") {
			t.Errorf("queue %s of a deleted ID: want exit %d and the error in JSON:\n%s", verb, exitUsage, r)
		}
	}
	r = q("delete", "../../etc")
	if r.code != exitUsage || !strings.Contains(r.stderr, "is not an entry ID") {
		t.Errorf("queue delete of a path: %s", r)
	}
	r = q("list")
	if r.code != 0 || !strings.Contains(r.stdout, ": 1 message(s)\n"+second.ID) || strings.Contains(r.stdout, first.ID) {
		t.Errorf("queue list:\n%s", r)
	}
	r = q("list", "--all", "--json")
	if all := decodeJSON[queueListJSON](t, r); r.code != 0 || len(all.Spools) != 1 || len(all.Spools[0].Entries) != 1 {
		t.Errorf("queue list --all --json:\n%s", r)
	}
	r = q("run", "--json")
	if run := decodeJSON[queueRunJSON](t, r); r.code != 0 || len(run.Delivered) != 1 || run.Delivered[0].ID != second.ID {
		t.Errorf("queue run --json:\n%s", r)
	}
	if got := srv.Messages(); len(got) != 1 || !strings.Contains(string(got[0].Data), "Subject: second") {
		t.Errorf("the server got %d messages", len(got))
	}
}

// TestQueueRunExitCodes: a run that leaves messages deferred exits 75, one
// whose messages failed for good 69, and the JSON says which and why.
func TestQueueRunExitCodes(t *testing.T) {
	srv := newFlaky(t, func(conn int, verb, arg string) string {
		switch {
		case verb == "RCPT" && strings.Contains(arg, "nobody@"):
			return "550 5.1.1 no such user here"
		case verb == "RCPT" && strings.Contains(arg, "later@"):
			return "451 4.2.0 mailbox busy"
		}
		return ""
	})
	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	for _, to := range []string{"later@example.org", "nobody@example.org"} {
		if r := execBin(t, execOpts{name: "sendmail", home: home, stdin: "Subject: x\n\ny\n"}, "-odq", to); r.code != 0 {
			t.Fatalf("%s", r)
		}
	}
	r := execBin(t, execOpts{home: home}, "queue", "run", "--json")
	run := decodeJSON[queueRunJSON](t, r)
	if r.code != exitUnavailable || run.ExitCode != exitUnavailable || len(run.Failed) != 1 || len(run.Deferred) != 1 || run.Left != 1 {
		t.Fatalf("want exit %d, one failed and one deferred:\n%s", exitUnavailable, r)
	}
	if f := run.Failed[0]; f.Recipients[0].Reply == nil || f.Recipients[0].Reply.Code != 550 || f.Recipients[0].Status != "failed" {
		t.Errorf("the failure: %+v", f)
	}
	if d := run.Deferred[0]; !strings.Contains(d.LastError, `451 4.2.0 "mailbox busy"`) || d.Attempts != 1 {
		t.Errorf("the deferral: %+v", d)
	}
	r = execBin(t, execOpts{home: home}, "queue", "run")
	if r.code != exitTryLater || !strings.Contains(r.stdout, "Deferred:     1 message(s), for 1 recipient(s), still queued:") ||
		!strings.Contains(r.stderr, "smtpkit: 1 message(s) stay in the queue for a later attempt") {
		t.Errorf("want exit %d:\n%s", exitTryLater, r)
	}
	// sendmail -q: a deferral is no failure.
	r = execBin(t, execOpts{name: "sendmail", home: home}, "-q")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("sendmail -q with a deferral: want exit 0 and silence:\n%s", r)
	}
}

// TestSendmailQueueDaemon: sendmail -q1s keeps running, sends what
// another process queues, and stops on SIGTERM with exit 0.
func TestSendmailQueueDaemon(t *testing.T) {
	srv := plainServer(t)
	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	daemon := binCommand(ctx, t, execOpts{name: "sendmail", home: home}, "-q1s")
	var stderr bytes.Buffer
	daemon.Stderr = &stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	if r := execBin(t, execOpts{name: "sendmail", home: home, stdin: "Subject: for the daemon\n\nhi\n"}, "-odq", "a@example.org"); r.code != 0 {
		t.Fatalf("%s", r)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	err := daemon.Wait()
	if got := srv.Messages(); len(got) != 1 || !strings.Contains(string(got[0].Data), "Subject: for the daemon") {
		t.Fatalf("the daemon sent %d messages:\n%s", len(got), stderr.String())
	}
	if err != nil {
		t.Errorf("sendmail -q1s after SIGTERM: %v\n%s", err, stderr.String())
	}
}

func TestQueueInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": 0, "f": 0, "30m": 30 * time.Minute, "30": 30 * time.Minute, "1h30m": 90 * time.Minute,
		"15s": 15 * time.Second, "p5m": 5 * time.Minute, "1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour,
	} {
		if got, err := queueInterval(in); err != nil || got != want {
			t.Errorf("queueInterval(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "5y", "0", "0m", "Ifoo", "Rbob", "S@example", "p"} {
		if _, err := queueInterval(in); err == nil || exitCode(sysexitsError{err}) != exUsage {
			t.Errorf("queueInterval(%q): %v, want a usage error", in, err)
		}
	}
	a, err := parseSendmailArgs([]string{"-odq", "-q30m", "--spool", "/tmp/q"})
	if err != nil || !a.queueOnly || !a.runQueue || a.queueInterval != 30*time.Minute || a.spool != "/tmp/q" {
		t.Errorf("parse: %+v, %v", a, err)
	}
	a, err = parseSendmailArgs([]string{"-odq", "-odi", "-bp", "-O", "DeliveryMode=background"})
	if err != nil || a.queueOnly || !a.listQueue {
		t.Errorf("parse: %+v, %v", a, err)
	}
}

func TestSpoolLocationAndName(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	home := func() (string, error) { return "/home/ana", nil }
	for _, tt := range []struct {
		flag string
		env  map[string]string
		root bool
		want string
	}{
		{"/q", map[string]string{"SMTPKIT_SPOOL": "/env"}, true, "/q"},
		{"", map[string]string{"SMTPKIT_SPOOL": "/env"}, true, "/env"},
		{"", nil, true, "/var/spool/smtpkit"},
		{"", map[string]string{"XDG_STATE_HOME": "/state"}, false, "/state/smtpkit/queue"},
		{"", map[string]string{"XDG_STATE_HOME": "relative"}, false, "/home/ana/.local/state/smtpkit/queue"},
		{"", nil, false, "/home/ana/.local/state/smtpkit/queue"},
	} {
		if got, err := spoolBaseOf(tt.flag, env(tt.env), tt.root, home); err != nil || got != filepath.FromSlash(tt.want) {
			t.Errorf("%+v: %q, %v", tt, got, err)
		}
	}
	if _, err := spoolBaseOf("", env(nil), false, func() (string, error) { return "", errors.New("none") }); exitCode(err) != exitConfig {
		t.Errorf("no home: %v", err)
	}
	names := map[string]bool{}
	for _, tt := range []struct {
		acct config.Account
		want string // "" when it must be made safe: no separator, no leading dot, unique
	}{
		{config.Account{Name: "work", Host: "h"}, "work"},
		{config.Account{Name: "work-2.old_x", Host: "h"}, "work-2.old_x"},
		{config.Account{Host: "smtp.example.com", Port: 587}, "smtp.example.com_587"},
		{config.Account{Host: "smtp.example.com", Security: smtpkit.SecurityImplicitTLS}, "smtp.example.com_465"},
		{config.Account{Name: "../etc", Host: "h"}, ""},
		{config.Account{Name: "a/b", Host: "h"}, ""},
		{config.Account{Name: "a_b", Host: "h"}, "a_b"},
		{config.Account{Name: "..", Host: "h"}, ""},
		{config.Account{Host: "::1", Port: 25}, ""},
		{config.Account{Name: strings.Repeat("x", 100), Host: "h"}, ""},
	} {
		got := spoolName(&tt.acct)
		if tt.want != "" && got != tt.want {
			t.Errorf("%v: %q, want %q", tt.acct, got, tt.want)
		}
		if strings.ContainsAny(got, `/\`) || strings.HasPrefix(got, ".") || got == "" || len(got) > 64 || names[got] {
			t.Errorf("%v: %q is not a safe, distinct name", tt.acct, got)
		}
		names[got] = true
	}
}
