package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/smtptest"
)

const headerMessage = "From: Alice <alice@example.com>\n" +
	"To: bob@example.org\n" +
	"Cc: Carol <carol@example.net>\n" +
	"Bcc: dave@example.org\n" +
	"Subject: hello\n" +
	"\n" +
	"Hello from the outbox.\n"

// TestEnqueueListRun migrates a fresh schema, queues a message with -t,
// lists it, sends it to a server, and finds the outbox empty.
func TestEnqueueListRun(t *testing.T) {
	url := freshSchema(t)
	r := must(t, 0, "", "", "migrate", url)
	if !strings.Contains(r.stdout, "at version 1") {
		t.Errorf("migrate said %q", r.stdout)
	}
	m := decode[migrateJSON](t, must(t, 0, url, "", "migrate", "--json"))
	if !m.OK || m.Version != 1 || !strings.HasPrefix(m.Schema, "outbox_cli_") {
		t.Errorf("migrate again: %+v", m)
	}

	file := writeFile(t, "message.eml", headerMessage)
	q := decode[enqueueJSON](t, must(t, 0, url, "", "enqueue", "-t", file, "--json"))
	wantTo := []string{"bob@example.org", "carol@example.net", "dave@example.org"}
	if q.Entry == nil || q.Entry.From != "alice@example.com" || !slices.Equal(q.Entry.To, wantTo) {
		t.Fatalf("enqueue -t: %+v", q.Entry)
	}

	l := decode[listJSON](t, must(t, 0, url, "", "list", "--json"))
	if len(l.Entries) != 1 || l.Entries[0].ID != q.Entry.ID || !slices.Equal(l.Entries[0].Pending, wantTo) ||
		l.Entries[0].Size != int64(len(headerMessage)-len("Bcc: dave@example.org\n")) {
		t.Fatalf("list: %+v", l.Entries)
	}
	if r := must(t, 0, url, "", "list"); !strings.Contains(r.stdout, q.Entry.ID) || !strings.Contains(r.stdout, "from <alice@example.com>") {
		t.Errorf("list says %q", r.stdout)
	}

	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	run := decode[runJSON](t, must(t, 0, url, "", "run", "--server", srv.Addr, "--security", "none", "--json"))
	if run.Due != 1 || len(run.Delivered) != 1 || run.Delivered[0].ID != q.Entry.ID || run.Left != 0 || !run.OK {
		t.Errorf("run: %+v", run)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the server took %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.From != "alice@example.com" || !slices.Equal(got.To, wantTo) {
		t.Errorf("the server got MAIL FROM %q, RCPT TO %q", got.From, got.To)
	}
	if data := string(got.Data); strings.Contains(data, "dave@") || !strings.Contains(data, "Subject: hello\r\n") ||
		!strings.HasSuffix(data, "Hello from the outbox.\r\n") {
		t.Errorf("the server got %q", data)
	}
	if l := decode[listJSON](t, must(t, 0, url, "", "list", "--json")); len(l.Entries) != 0 {
		t.Errorf("after the run the outbox holds %+v", l.Entries)
	}
	if r := must(t, 0, url, "", "run", "--server", srv.Addr, "--security", "none"); !strings.Contains(r.stdout, "Nothing to send") {
		t.Errorf("a run of an empty outbox says %q", r.stdout)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("the server took %d messages, want still 1", n)
	}
}

// TestShowRetryDelete defers a message on a server that is down, shows it,
// retries it, sends it with --due, and deletes another.
func TestShowRetryDelete(t *testing.T) {
	url := freshSchema(t)
	must(t, 0, url, "", "migrate")
	msg := "Subject: two\r\n\r\nbody\r\n"
	id := decode[enqueueJSON](t, must(t, 0, url, msg, "enqueue", "--from", "a@example.com", "--to", "b@example.org,c@example.org", "--json")).Entry.ID

	down := decode[runJSON](t, must(t, exitTryLater, url, "", "run", "--server", closedAddr(t), "--security", "none", "--json"))
	if len(down.Deferred) != 1 || down.Left != 1 || down.OK || down.ExitCode != exitTryLater {
		t.Fatalf("run on a closed port: %+v", down)
	}

	s := decode[showJSON](t, must(t, 0, url, "", "show", id, "--json"))
	if s.Entry == nil || s.Entry.Attempts != 1 || s.Entry.LastError == "" || !s.Entry.NextAttempt.After(time.Now()) ||
		s.Entry.Header != "Subject: two\r\n" || !slices.Equal(s.Entry.Pending, []string{"b@example.org", "c@example.org"}) {
		t.Fatalf("show after a failed attempt: %+v", s.Entry)
	}
	if r := must(t, 0, url, "", "show", id); !strings.Contains(r.stdout, "Attempts:     1") || !strings.Contains(r.stdout, "| Subject: two") {
		t.Errorf("show says %q", r.stdout)
	}

	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	if r := decode[runJSON](t, must(t, 0, url, "", "run", "--due", "--server", srv.Addr, "--security", "none", "--json")); r.Due != 0 || r.Left != 1 {
		t.Errorf("run --due before the next attempt: %+v", r)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("run --due sent %d messages before they were due", n)
	}
	if r := decode[idJSON](t, must(t, 0, url, "", "retry", "--json", id)); !r.OK || r.ID != id {
		t.Errorf("retry: %+v", r)
	}
	if r := decode[runJSON](t, must(t, 0, url, "", "run", "--due", "--server", srv.Addr, "--security", "none", "--json")); len(r.Delivered) != 1 || r.Left != 0 {
		t.Errorf("run --due after retry: %+v", r)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"b@example.org", "c@example.org"}) {
		t.Fatalf("the server took %+v", msgs)
	}

	other := decode[enqueueJSON](t, must(t, 0, url, msg, "enqueue", "--to", "d@example.org", "--json")).Entry.ID
	if r := must(t, 0, url, "", "delete", other); !strings.Contains(r.stdout, "deleted") {
		t.Errorf("delete says %q", r.stdout)
	}
	must(t, exitUsage, url, "", "show", other)
	must(t, exitUsage, url, "", "delete", other)
	must(t, exitUsage, url, "", "retry", other)
	if l := decode[listJSON](t, must(t, 0, url, "", "list", "--json")); len(l.Entries) != 0 {
		t.Errorf("after delete the outbox holds %+v", l.Entries)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("the server took %d messages, want 1", n)
	}
}

// TestRunFailures checks the exit codes of a run whose messages are
// refused for good, all or in part.
func TestRunFailures(t *testing.T) {
	url := freshSchema(t)
	must(t, 0, url, "", "migrate")
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.RefuseRecipients = []string{"nobody@example.org"}
	srv.Start()
	defer srv.Close()
	args := []string{"run", "--server", srv.Addr, "--security", "none", "--json"}

	must(t, 0, url, "x\n", "enqueue", "--to", "nobody@example.org")
	r := decode[runJSON](t, must(t, exitUnavailable, url, "", args...))
	if len(r.Failed) != 1 || r.Failed[0].Recipients[0].Reply == nil || r.Failed[0].Recipients[0].Reply.Code != 550 {
		t.Errorf("run of a refused message: %+v", r)
	}

	must(t, 0, url, "x\n", "enqueue", "--to", "nobody@example.org", "--to", "somebody@example.org")
	r = decode[runJSON](t, must(t, exitPartial, url, "", args...))
	if len(r.Failed) != 1 || r.Left != 0 {
		t.Errorf("run of a message refused in part: %+v", r)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"somebody@example.org"}) {
		t.Errorf("the server took %+v", msgs)
	}
}

// TestRunWatch sends a message queued while run --watch waits, and exits 0
// when interrupted.
func TestRunWatch(t *testing.T) {
	url := freshSchema(t)
	must(t, 0, url, "", "migrate")
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan result)
	go func() { done <- cli(t, ctx, url, "", "run", "--watch", "--server", srv.Addr, "--security", "none") }()
	id := decode[enqueueJSON](t, must(t, 0, url, "Subject: w\n\nw\n", "enqueue", "--to", "w@example.org", "--json")).Entry.ID
	deadline := time.Now().Add(time.Minute)
	for len(srv.Messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	r := <-done
	if r.code != 0 || !strings.Contains(r.stdout, id+"  delivered") {
		t.Errorf("run --watch: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("the server took %d messages, want 1", n)
	}
}

// TestExitCodes checks the command line's mistakes and a bad database.
func TestExitCodes(t *testing.T) {
	url := freshSchema(t)
	down := "postgres://nobody@" + closedAddr(t) + "/nothing?sslmode=disable&connect_timeout=5"
	for _, c := range []struct {
		code  int
		url   string
		stdin string
		args  []string
	}{
		{exitUsage, url, "", []string{"frobnicate"}},
		{exitUsage, url, "", []string{"list", "--nope"}},
		{exitUsage, url, "", []string{"list", "extra"}},
		{exitUsage, url, "", []string{"show"}},
		{exitUsage, url, "x\n", []string{"enqueue"}},
		{exitUsage, url, "x\n", []string{"enqueue", "-t", "--to", "a@example.org"}},
		{exitUsage, url, "x\n", []string{"enqueue", "--to", "a@example.org\r\nRCPT TO:<b@example.org>"}},
		{exitUsage, url, "", []string{"run"}},
		{exitUsage, url, "", []string{"run", "--server", "127.0.0.1:25", "--security", "sometimes"}},
		{exitConfig, "", "", []string{"list"}},
		{exitConfig, "postgres://user@127.0.0.1:notaport/db", "", []string{"list"}},
		{exitConfig, "postgres://user@127.0.0.1:notaport/db", "", []string{"migrate"}},
		{exitConfig, strings.Replace(url, "search_path=", "search_path=nothere_", 1), "", []string{"list"}},
		{exitConfig, url, "", []string{"run", "--server", "127.0.0.1:25", "--user", "me"}},
		{exitTryLater, down, "", []string{"list"}},
		{exitDataErr, url, "", []string{"enqueue", "--to", "a@example.org"}},
		{exitDataErr, url, "Subject: no recipient\n\nx\n", []string{"enqueue", "-t"}},
		{exitNoInput, url, "", []string{"enqueue", "--to", "a@example.org", "/nonexistent/message.eml"}},
	} {
		r := must(t, c.code, c.url, c.stdin, c.args...)
		if c.code != exitUsage && r.stderr == "" {
			t.Errorf("%v: exit %d with nothing on stderr", c.args, c.code)
		}
	}
	// Not migrated yet: the tables missing is the configuration's, and says what to run.
	if r := must(t, exitConfig, url, "", "list"); !strings.Contains(r.stderr, "smtpkit-outbox migrate") {
		t.Errorf("list before migrate says %q", r.stderr)
	}
	j := decode[listJSON](t, must(t, exitConfig, "postgres://user@127.0.0.1:notaport/db", "", "list", "--json"))
	if j.OK || j.ExitCode != exitConfig || j.Error == nil || j.Error.ExitCode != exitConfig {
		t.Errorf("list --json with a bad URL: %+v", j)
	}
	if r := must(t, 0, url, "", "--help"); !strings.Contains(r.stdout, "enqueue") {
		t.Errorf("--help says %q", r.stdout)
	}
	if r := must(t, 0, url, "", "run", "-h"); !strings.Contains(r.stdout, "-server") || !strings.Contains(r.stdout, "Exit codes") {
		t.Errorf("run -h says %q", r.stdout)
	}
}
