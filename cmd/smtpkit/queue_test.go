package main

// Tests of the queue on the command line: send --queue, sendmail's queue
// on a transient failure, -odq, -q and -bp, and the queue commands, each
// checked on the wire (what the server received) and on disk (what the
// spool holds).

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/config"
	"github.com/smtpkit/smtpkit/outbox"
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

// runOut runs the command line args in this process, with stdin as its
// standard input, and returns its standard output and error apart.
func runOut(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		errOut.WriteString("smtpkit: " + describe(err) + "\n") // as runMain prints it
		return out.String(), errOut.String(), exitCode(err)
	}
	return out.String(), errOut.String(), 0
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

// TestQueueTransientThenDelivered: a server that answers 451 to the first
// MAIL and 250 afterwards. send --queue exits 0 with a note, the message
// waits in the spool of the server's host and port with the reply, and
// queue run delivers it once.
func TestQueueTransientThenDelivered(t *testing.T) {
	srv := newFlaky(t, func(conn int, verb, arg string) string {
		if verb == "MAIL" && conn == 1 {
			return "451 4.3.0 try again later"
		}
		return ""
	})
	spool := t.TempDir()
	flags := []string{"-s", "none", "--server", srv.Addr, "--spool", spool}
	send := append([]string{"send", "--queue", "--from", "me@example.com", "--to", "bob@example.org",
		"--subject", "Queued", "--body", "Sent when the server takes it."}, flags...)
	out, errOut, code := runOut(t, "", send...)
	if code != 0 || !strings.Contains(errOut, "smtpkit: queued as ") ||
		!strings.Contains(errOut, `451 4.3.0 "try again later"; smtpkit queue run --server `+srv.Addr+" --spool "+spool+" sends it\n") {
		t.Fatalf("send --queue: exit %d, want 0 and a note on stderr:\n%s\n%s", code, out, errOut)
	}
	host, port, _ := net.SplitHostPort(srv.Addr)
	dir := filepath.Join(spool, host+"_"+port)
	ids := entries(t, dir)
	if len(ids) != 1 || !strings.Contains(errOut, "queued as "+ids[0]+":") {
		t.Fatalf("the spool %s holds %v; stderr:\n%s", dir, ids, errOut)
	}

	out, _, code = runOut(t, "", append([]string{"queue", "list", "--json"}, flags...)...)
	var list queueListJSON
	decodeInto(t, out, &list)
	if code != 0 || len(list.Spools) != 1 || len(list.Spools[0].Entries) != 1 {
		t.Fatalf("queue list --json: exit %d\n%s", code, out)
	}
	e := list.Spools[0].Entries[0]
	if e.ID != ids[0] || e.Attempts != 1 || !slices.Equal(e.Pending, []string{"bob@example.org"}) ||
		!strings.Contains(e.LastError, `451 4.3.0 "try again later"`) || !e.NextAttempt.After(time.Now()) || e.From != "me@example.com" {
		t.Errorf("the entry: %+v", e)
	}

	// --due keeps the backoff: nothing goes yet.
	out, _, code = runOut(t, "", append([]string{"queue", "run", "--due"}, flags...)...)
	if code != 0 || !strings.Contains(out, "nothing to send (1 message(s) waiting)") || len(srv.taken()) != 0 {
		t.Fatalf("queue run --due: exit %d, want nothing sent:\n%s", code, out)
	}
	out, _, code = runOut(t, "", append([]string{"queue", "run", "--json"}, flags...)...)
	var run queueRunJSON
	decodeInto(t, out, &run)
	if code != 0 || !run.OK || run.Due != 1 || len(run.Delivered) != 1 || len(run.Deferred) != 0 || len(run.Failed) != 0 || run.Left != 0 {
		t.Fatalf("queue run --json: exit %d\n%s", code, out)
	}
	if got := srv.taken(); len(got) != 1 || !strings.Contains(got[0], "Subject: Queued") || !strings.Contains(got[0], "Sent when the server takes it.") {
		t.Fatalf("the server took %q", got)
	}
	if ids := entries(t, dir); len(ids) != 0 {
		t.Errorf("the spool still holds %v", ids)
	}
	out, _, code = runOut(t, "", append([]string{"queue", "run"}, flags...)...)
	if code != 0 || !strings.Contains(out, "nothing to send (0 message(s) waiting)") || len(srv.taken()) != 1 {
		t.Errorf("a second queue run: exit %d, %d messages taken:\n%s", code, len(srv.taken()), out)
	}
}

// decodeInto parses the one JSON object of out into v, refusing fields v lacks.
func decodeInto(t *testing.T, out string, v any) {
	t.Helper()
	r := execResult{stdout: out}
	switch p := v.(type) {
	case *queueListJSON:
		*p = decodeJSON[queueListJSON](t, r)
	case *queueRunJSON:
		*p = decodeJSON[queueRunJSON](t, r)
	case *queueShowJSON:
		*p = decodeJSON[queueShowJSON](t, r)
	case *queueIDJSON:
		*p = decodeJSON[queueIDJSON](t, r)
	case *sendJSON:
		*p = decodeJSON[sendJSON](t, r)
	default:
		t.Fatalf("decodeInto: %T", v)
	}
}

// serveAt starts a well-behaved plaintext server on addr, an address a
// test reserved: the server that was away comes back where it was.
func serveAt(t *testing.T, addr string) *smtptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Config.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Config.Close()
		<-done
	})
	return srv
}

// closedPort returns an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestSendmailServerDownThenUp: sendmail, as a link, to a server that is
// down: the message is queued, exit 0 and a note; once the server is up
// on the same address, queue run delivers it.
func TestSendmailServerDownThenUp(t *testing.T) {
	addr := closedPort(t)
	home := t.TempDir()
	msmtprc(t, home, addr)
	msg := "To: bob@example.org\nSubject: while the server was down\n\nhello\n"
	r := execBin(t, execOpts{name: "sendmail", home: home, stdin: msg}, "-t", "-i")
	if r.code != 0 || r.stdout != "" || !strings.HasPrefix(r.stderr, "sendmail: queued as ") ||
		!strings.Contains(r.stderr, "connection refused") || !strings.HasSuffix(r.stderr, "; smtpkit queue run sends it\n") {
		t.Fatalf("want exit 0 and the note alone:\n%s", r)
	}
	ids := entries(t, userSpool(home, "default"))
	if len(ids) != 1 {
		t.Fatalf("the spool holds %v", ids)
	}

	srv := serveAt(t, addr)
	r = execBin(t, execOpts{home: home}, "queue", "run")
	if r.code != 0 || !strings.Contains(r.stdout, "Delivered:    1 message(s), for 1 recipient(s)") {
		t.Fatalf("queue run: %s", r)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "robot@example.com" || !slices.Equal(got[0].To, []string{"bob@example.org"}) ||
		!strings.Contains(string(got[0].Data), "Subject: while the server was down") {
		t.Fatalf("the server got %+v", got)
	}
	if ids := entries(t, userSpool(home, "default")); len(ids) != 0 {
		t.Errorf("the spool still holds %v", ids)
	}
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

// TestQueuePermanentNotQueued: a 5xx is reported with its exit code and
// nothing is queued, by send --queue and by sendmail.
func TestQueuePermanentNotQueued(t *testing.T) {
	srv := newFlaky(t, func(conn int, verb, arg string) string {
		switch {
		case verb == "MAIL" && strings.Contains(arg, "blocked@"):
			return "550 5.7.1 sender blocked"
		case verb == "RCPT" && strings.Contains(arg, "nobody@"):
			return "550 5.1.1 no such user here"
		}
		return ""
	})
	spool := t.TempDir()
	host, port, _ := net.SplitHostPort(srv.Addr)
	dir := filepath.Join(spool, host+"_"+port)
	for _, tt := range []struct {
		from, to string
		code     int
	}{
		{"me@example.com", "nobody@example.org", exitRcpt},
		{"blocked@example.com", "bob@example.org", exitMail},
	} {
		out, errOut, code := runOut(t, "", "send", "--queue", "-s", "none", "--server", srv.Addr, "--spool", spool,
			"--from", tt.from, "--to", tt.to, "--subject", "x", "--body", "y")
		if code != tt.code || strings.Contains(errOut, "queued") {
			t.Errorf("send --queue from %s to %s: exit %d, want %d and nothing queued:\n%s%s", tt.from, tt.to, code, tt.code, out, errOut)
		}
		if ids := entries(t, dir); len(ids) != 0 {
			t.Fatalf("the spool holds %v", ids)
		}
	}
	// One recipient refused for good, one accepted: partial, and nothing waits.
	_, _, code := runOut(t, "", "send", "--queue", "-s", "none", "--server", srv.Addr, "--spool", spool,
		"--from", "me@example.com", "--to", "nobody@example.org, bob@example.org", "--subject", "x", "--body", "y")
	if code != exitPartial || len(entries(t, dir)) != 0 {
		t.Errorf("one of two refused: exit %d, want %d, and the spool holds %v", code, exitPartial, entries(t, dir))
	}

	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	r := execBin(t, execOpts{name: "sendmail", home: home, stdin: "Subject: x\n\ny\n"}, "nobody@example.org")
	if r.code != exUnavailable || !strings.Contains(r.stderr, "nobody@example.org refused: 550 5.1.1") || strings.Contains(r.stderr, "queued") {
		t.Errorf("sendmail to a refused recipient: want exit %d:\n%s", exUnavailable, r)
	}
	if ids := entries(t, userSpool(home, "default")); len(ids) != 0 {
		t.Errorf("sendmail queued %v", ids)
	}
}

// TestQueueUnconfirmedNotQueued: the connection breaks after the end of
// the data and before the reply (ErrUnconfirmed): the message may have
// been delivered, so it is reported and not queued.
func TestQueueUnconfirmedNotQueued(t *testing.T) {
	srv := newFlaky(t, func(conn int, verb, arg string) string {
		if verb == "." {
			return closeConn
		}
		return ""
	})
	spool := t.TempDir()
	out, errOut, code := runOut(t, "", "send", "--queue", "-s", "none", "--server", srv.Addr, "--spool", spool,
		"--from", "me@example.com", "--to", "bob@example.org", "--subject", "x", "--body", "y")
	if code != exitData || !strings.Contains(errOut, "may have been delivered") || !strings.Contains(errOut, "smtpkit: not queued:") ||
		strings.Contains(errOut, "queued as") {
		t.Errorf("send --queue: exit %d, want %d, ErrUnconfirmed, not queued:\n%s%s", code, exitData, out, errOut)
	}
	host, port, _ := net.SplitHostPort(srv.Addr)
	if ids := entries(t, filepath.Join(spool, host+"_"+port)); len(ids) != 0 {
		t.Errorf("the spool holds %v", ids)
	}

	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	r := execBin(t, execOpts{name: "sendmail", home: home, stdin: "Subject: x\n\ny\n"}, "bob@example.org")
	if r.code != exTempFail || !strings.Contains(r.stderr, "sendmail: not queued:") || strings.Contains(r.stderr, "queued as") {
		t.Errorf("sendmail: want exit %d, not queued:\n%s", exTempFail, r)
	}
	if ids := entries(t, userSpool(home, "default")); len(ids) != 0 {
		t.Errorf("sendmail queued %v", ids)
	}
}

// TestSendmailKilledMidData: sendmail killed (SIGKILL) in the middle of
// the message's data loses nothing: queue run delivers it afterwards.
func TestSendmailKilledMidData(t *testing.T) {
	staller := newFlaky(t, func(conn int, verb, arg string) string {
		if verb == "DATA" {
			return stall
		}
		return ""
	})
	home := t.TempDir()
	msmtprc(t, home, staller.Addr)
	body := strings.Repeat("a line of the message that was cut off\n", 2000)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := binCommand(ctx, t, execOpts{name: "sendmail", home: home, stdin: "Subject: killed\n\n" + body}, "-i", "bob@example.org")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-staller.stalled:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("sendmail never reached the data:\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	var exit interface{ ExitCode() int }
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("sendmail was not killed: %v\n%s", err, stderr.String())
	}

	good := plainServer(t)
	msmtprc(t, home, good.Addr) // the account's server, back in order
	r := execBin(t, execOpts{home: home}, "queue", "run")
	if r.code != 0 {
		t.Fatalf("queue run: %s", r)
	}
	got := good.Messages()
	if len(got) < 1 || !strings.Contains(string(got[0].Data), "Subject: killed") ||
		!strings.HasSuffix(string(got[0].Data), strings.ReplaceAll(body, "\n", "\r\n")) {
		t.Fatalf("the server got %d messages, want the one cut off, whole", len(got))
	}
	if len(got) > 1 {
		t.Errorf("the server got %d copies", len(got))
	}
	if ids := entries(t, userSpool(home, "default")); len(ids) != 0 {
		t.Errorf("the spool still holds %v", ids)
	}
}

// TestSendBulkQueuesTransientFailures: send --dir --queue queues the
// messages refused with a 4xx, reports the 5xx, and the summary counts
// both; queue run sends the queued one to the recipient left only.
func TestSendBulkQueuesTransientFailures(t *testing.T) {
	var busy atomic.Bool
	busy.Store(true)
	srv := newFlaky(t, func(conn int, verb, arg string) string {
		switch {
		case verb == "RCPT" && strings.Contains(arg, "nobody@"):
			return "550 5.1.1 no such user here"
		case verb == "RCPT" && strings.Contains(arg, "later@") && busy.Load():
			return "451 4.2.0 mailbox busy"
		}
		return ""
	})
	dir := t.TempDir()
	for i, to := range []string{"a@example.org", "b@example.org, later@example.org", "nobody@example.org"} {
		writeFile(t, dir, string(rune('1'+i))+".eml", "From: s@example.com\nTo: "+to+"\nSubject: bulk\n\nhi\n", 0o600)
	}
	spool := t.TempDir()
	flags := []string{"-s", "none", "--server", srv.Addr, "--spool", spool}
	out, errOut, code := runOut(t, "", append([]string{"send", "--queue", "--dir", dir, "--connections", "1", "--json"}, flags...)...)
	var res sendJSON
	decodeInto(t, out, &res)
	sum := res.Summary
	if code != exitPartial || sum.Messages != 3 || sum.Sent != 2 || sum.Failed != 1 || sum.Queued != 1 || sum.RecipientsQueued != 1 ||
		sum.RecipientsRefused != 1 || sum.RecipientsAccepted != 2 {
		t.Fatalf("exit %d, want %d; summary %+v\n%s", code, exitPartial, sum, errOut)
	}
	q := res.Messages[1].Queued
	if q == nil || q.ID == "" || !slices.Equal(q.Recipients, []string{"later@example.org"}) || !strings.Contains(q.Reason, "451 4.2.0 mailbox busy") {
		t.Fatalf("the message queued: %+v", res.Messages[1])
	}
	if !strings.Contains(errOut, "smtpkit: queued 1 message(s) the server could not take now; smtpkit queue run --server") {
		t.Errorf("stderr: %s", errOut)
	}
	host, port, _ := net.SplitHostPort(srv.Addr)
	if ids := entries(t, filepath.Join(spool, host+"_"+port)); !slices.Equal(ids, []string{q.ID}) {
		t.Fatalf("the spool holds %v, want %s", ids, q.ID)
	}

	busy.Store(false)
	before := len(srv.taken())
	out, _, code = runOut(t, "", append([]string{"queue", "run", "--json"}, flags...)...)
	var run queueRunJSON
	decodeInto(t, out, &run)
	if code != 0 || len(run.Delivered) != 1 || !slices.Equal(run.Delivered[0].To, []string{"later@example.org"}) {
		t.Fatalf("queue run: exit %d\n%s", code, out)
	}
	if got := srv.taken(); len(got) != before+1 {
		t.Errorf("the server took %d messages after the run, want %d", len(got), before+1)
	}
	rcpts := 0
	for _, l := range srv.Received() {
		if strings.HasPrefix(l, "RCPT TO:<b@example.org>") {
			rcpts++
		}
	}
	if rcpts != 1 {
		t.Errorf("b@example.org was sent to %d times, want once", rcpts)
	}
}

// TestQueueOnFailureSetting: queue_on_failure in the account queues
// without --queue; --queue=false overrides it; an account's false keeps
// sendmail from queueing.
func TestQueueOnFailureSetting(t *testing.T) {
	addr := closedPort(t)
	host, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := writeFile(t, dir, "config.toml", "[accounts.work]\nhost = \""+host+"\"\nport = "+port+
		"\nsecurity = \"none\"\nfrom = \"me@example.com\"\nqueue_on_failure = true\n", 0o600)
	spool := t.TempDir()
	send := []string{"send", "--config", conf, "--spool", spool, "--to", "bob@example.org", "--subject", "x", "--body", "y"}
	_, errOut, code := runOut(t, "", send...)
	if code != 0 || !strings.Contains(errOut, "smtpkit queue run --config "+conf+" --spool "+spool+" sends it") {
		t.Errorf("queue_on_failure = true: exit %d:\n%s", code, errOut)
	}
	if ids := entries(t, filepath.Join(spool, "work")); len(ids) != 1 {
		t.Fatalf("the spool of work holds %v", ids)
	}
	_, errOut, code = runOut(t, "", append(send, "--queue=false")...)
	if code != exitRefused || strings.Contains(errOut, "queued") || len(entries(t, filepath.Join(spool, "work"))) != 1 {
		t.Errorf("--queue=false: exit %d, want %d and nothing queued:\n%s", code, exitRefused, errOut)
	}

	home := t.TempDir()
	off := writeFile(t, dir, "off.toml", "[accounts.work]\nhost = \""+host+"\"\nport = "+port+
		"\nsecurity = \"none\"\nqueue_on_failure = false\n", 0o600)
	r := execBin(t, execOpts{name: "sendmail", home: home, stdin: "Subject: x\n\ny\n"}, "-C", off, "bob@example.org")
	if r.code != exTempFail || strings.Contains(r.stderr, "queued") {
		t.Errorf("sendmail with queue_on_failure = false: want exit %d:\n%s", exTempFail, r)
	}
	if ids := entries(t, userSpool(home, "work")); len(ids) != 0 {
		t.Errorf("sendmail queued %v", ids)
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

// TestTransient: which failures the command line queues.
func TestTransient(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&smtpkit.Error{Phase: smtpkit.PhaseMail, Code: 451}, true},
		{&smtpkit.Error{Phase: smtpkit.PhaseGreeting, Code: 421}, true},
		{&smtpkit.Error{Phase: smtpkit.PhaseAuth, Code: 454}, true},
		{&smtpkit.Error{Phase: smtpkit.PhaseAuth, Code: 535, Err: smtpkit.ErrAuthFailed}, false},
		{&smtpkit.Error{Phase: smtpkit.PhaseRcpt, Code: 550}, false},
		{&smtpkit.Error{Phase: smtpkit.PhaseConnect, Err: syscall.ECONNREFUSED}, true},
		{&smtpkit.Error{Phase: smtpkit.PhaseConnect, Err: &net.DNSError{Err: "no such host", IsNotFound: true}}, false},
		{&smtpkit.Error{Phase: smtpkit.PhaseConnect, Err: &net.DNSError{Err: "server misbehaving", IsTemporary: true}}, true},
		{&smtpkit.Error{Phase: smtpkit.PhaseGreeting, Err: smtpkit.ErrGreetingTimeout}, true},
		{&smtpkit.Error{Phase: smtpkit.PhaseTLS, Err: errors.New("x509: certificate signed by unknown authority")}, false},
		{&smtpkit.Error{Phase: smtpkit.PhaseTLS, Err: syscall.ECONNRESET}, true},
		{&smtpkit.Error{Phase: smtpkit.PhaseSTARTTLS, Err: smtpkit.ErrTLSNotOffered}, false},
		{&smtpkit.Error{Phase: smtpkit.PhaseData, Err: smtpkit.ErrClosed}, true},
		{&smtpkit.Error{Phase: smtpkit.PhaseData, Err: smtpkit.ErrUnconfirmed}, false},
		{&smtpkit.Error{Phase: smtpkit.PhaseEHLO, Err: smtpkit.ErrProtocol}, false},
		{errors.New("reading the message: boom"), false},
		{nil, false},
	} {
		if got := transient(tt.err); got != tt.want {
			t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	// judge: per recipient, as an outbox.Runner reads an attempt.
	res := &smtpkit.Result{Recipients: []smtpkit.RecipientResult{
		{Address: "a", Reply: smtpkit.Reply{Code: 250}}, {Address: "b", Reply: smtpkit.Reply{Code: 451}}, {Address: "c", Reply: smtpkit.Reply{Code: 550}},
	}, Reply: smtpkit.Reply{Code: 250}}
	j := judge(3, res, nil)
	if !slices.Equal(j.status, []outbox.Status{outbox.Delivered, outbox.Pending, outbox.Failed}) || j.replies[1].Code != 451 {
		t.Errorf("judge: %+v", j)
	}
	j = judge(2, nil, &smtpkit.Error{Phase: smtpkit.PhaseData, Err: smtpkit.ErrUnconfirmed})
	if !j.doubt {
		t.Errorf("ErrUnconfirmed: %+v", j)
	}
}

// TestQueueUnwritable: when the queue cannot be written, sendmail sends
// without it, with a warning; a transient failure then exits 75, queued
// nowhere; -odq, which can only queue, fails with 75.
func TestQueueUnwritable(t *testing.T) {
	srv := plainServer(t)
	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	blocker := writeFile(t, home, "not-a-directory", "", 0o600)
	env := []string{"SMTPKIT_SPOOL=" + filepath.Join(blocker, "queue")}
	r := execBin(t, execOpts{name: "sendmail", home: home, env: env, stdin: "Subject: x\n\ny\n"}, "bob@example.org")
	if r.code != 0 || !strings.HasPrefix(r.stderr, "sendmail: warning: the message cannot be queued, so it is sent without the queue: ") ||
		len(srv.Messages()) != 1 {
		t.Errorf("sendmail with a queue that cannot be written: want it sent with a warning:\n%s", r)
	}
	down := t.TempDir()
	msmtprc(t, down, closedPort(t))
	r = execBin(t, execOpts{name: "sendmail", home: down, env: env, stdin: "Subject: x\n\ny\n"}, "bob@example.org")
	if r.code != exTempFail || strings.Contains(r.stderr, "queued as") {
		t.Errorf("a server away and a queue that cannot be written: want exit %d:\n%s", exTempFail, r)
	}
	r = execBin(t, execOpts{name: "sendmail", home: home, env: env, stdin: "Subject: x\n\ny\n"}, "-odq", "bob@example.org")
	if r.code != exTempFail || !strings.Contains(r.stderr, "not-a-directory") {
		t.Errorf("-odq with a queue that cannot be written: want exit %d:\n%s", exTempFail, r)
	}
}
