package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
)

// dirNames lists the names in dir.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func TestSpoolEnqueueListGetOpen(t *testing.T) {
	s := openSpool(t)
	ctx := testContext(t)
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test", "c@y.test"}, Body: smtpkit.Body8BitMIME,
		DSN: &smtpkit.DSN{Return: "HDRS", EnvelopeID: "env-1", Notify: []string{"FAILURE"}}}
	before := time.Now()
	id, err := s.Enqueue(ctx, env, strings.NewReader("Subject: hi\r\n\r\nbody\n"))
	if err != nil {
		t.Fatal(err)
	}
	env.To[0] = "changed@y.test" // the caller's envelope is the caller's
	es := listAll(t, s)
	if len(es) != 1 {
		t.Fatalf("List: %d entries, want 1", len(es))
	}
	e := es[0]
	if e.ID != id || e.Envelope.From != "a@x.test" || strings.Join(e.Envelope.To, ",") != "b@y.test,c@y.test" ||
		e.Envelope.Body != smtpkit.Body8BitMIME || e.Envelope.DSN == nil || e.Envelope.DSN.EnvelopeID != "env-1" {
		t.Errorf("entry %+v does not hold the envelope enqueued", e)
	}
	if e.Size != 20 || e.Attempts != 0 || e.Leased || e.Lease != "" || e.Created.Before(before.Add(-time.Second)) || e.NextAttempt.After(time.Now()) {
		t.Errorf("entry %+v: want size 20, no attempt, not leased, created now, due now", e)
	}
	if len(e.Recipients) != 2 || e.Recipients[0].Status != outbox.Pending || e.Recipients[1].Address != "c@y.test" {
		t.Errorf("recipients %+v, want both pending", e.Recipients)
	}
	got, err := s.Get(ctx, id)
	if err != nil || got.ID != id {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	r, err := s.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "Subject: hi\r\n\r\nbody\n" {
		t.Errorf("message %q: want it byte for byte as enqueued", b)
	}
	if _, ok := r.(io.Seeker); !ok {
		t.Errorf("Open returned a %T, want a reader that can be rewound", r)
	}
	// The files are the spool's owner's alone.
	for _, p := range []string{filepath.Join(s.Dir(), "queue"), filepath.Join(s.Dir(), "queue", id), filepath.Join(s.Dir(), "queue", id, "message")} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for others", p, st.Mode().Perm())
		}
	}
	if names := dirNames(t, filepath.Join(s.Dir(), "tmp")); len(names) != 0 {
		t.Errorf("tmp/ holds %q after a successful Enqueue", names)
	}
}

func TestSpoolRefusesInvalidEnvelopes(t *testing.T) {
	s := openSpool(t)
	for _, env := range []*smtpkit.Envelope{
		nil,
		{From: "a@x.test"},
		{From: "a@x.test", To: []string{""}},
		{From: "a@x.test\r\nRCPT TO:<evil@z.test>", To: []string{"b@y.test"}},
		{From: "a@x.test", To: []string{"b@y.test\x00"}},
		{From: "a@x.test", To: []string{"b@y.test>"}},
		{From: "a@x.test", To: []string{"b@y.test"}, Body: "9BIT"},
		{From: "a@x.test", To: []string{"b@y.test"}, DSN: &smtpkit.DSN{Notify: []string{"SOMETIMES"}}},
	} {
		_, err := s.Enqueue(testContext(t), env, strings.NewReader("m\r\n"))
		if !errors.Is(err, smtpkit.ErrInvalidArgument) || !strings.Contains(err.Error(), "not queued") {
			t.Errorf("Enqueue(%+v): %v, want ErrInvalidArgument saying the message was not queued", env, err)
		}
	}
	if es := listAll(t, s); len(es) != 0 {
		t.Errorf("%d entries after refused envelopes", len(es))
	}
}

// failingReader gives n bytes, then an error.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// TestSpoolEnqueueFailsBeforeTheMessageIsSafe: a reader that fails, or a
// context that ends, half way through a message leaves no entry behind and
// says the message was not queued.
func TestSpoolEnqueueFailsBeforeTheMessageIsSafe(t *testing.T) {
	s := openSpool(t)
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	boom := errors.New("the pipe broke")
	_, err := s.Enqueue(testContext(t), env, &failingReader{n: 3 << 20, err: boom})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "not queued") {
		t.Errorf("Enqueue from a failing reader: %v, want the reader's error, saying the message was not queued", err)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	r := &failingReader{n: 1 << 30}
	cancelling := readerFunc(func(p []byte) (int, error) {
		if r.n < 1<<30-(2<<20) {
			cancel()
		}
		return r.Read(p)
	})
	_, err = s.Enqueue(ctx, env, cancelling)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not queued") {
		t.Errorf("Enqueue with a context cancelled midway: %v, want context.Canceled, not queued", err)
	}
	if es := listAll(t, s); len(es) != 0 {
		t.Errorf("%d entries after failed enqueues, want none", len(es))
	}
	if names := dirNames(t, filepath.Join(s.Dir(), "tmp")); len(names) != 0 {
		t.Errorf("tmp/ holds %q after failed enqueues, want nothing", names)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestSpoolLeaseExcludesOthers: an entry one Spool claimed is invisible to
// Claim through another Spool on the same directory (as in another
// process), reported Leased, and refused to Delete and Retry, until the
// lease ends.
func TestSpoolLeaseExcludesOthers(t *testing.T) {
	a := openSpool(t)
	b, err := outbox.OpenSpool(a.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := testContext(t)
	id := enqueue(t, a, 1, 100)
	e, _, err := a.Claim(ctx, time.Minute)
	if err != nil || e == nil || e.ID != id || e.Lease == "" {
		t.Fatalf("Claim: %+v, %v; want entry %s with a lease", e, err, id)
	}
	if other, _, err := b.Claim(ctx, time.Minute); other != nil || err != nil {
		t.Fatalf("a second spool claimed %+v (%v) while the first held it", other, err)
	}
	if got, err := b.Get(ctx, id); err != nil || !got.Leased {
		t.Errorf("Get of a held entry: %+v, %v; want Leased", got, err)
	}
	if err := b.Delete(ctx, id); !errors.Is(err, outbox.ErrBusy) {
		t.Errorf("Delete of a held entry: %v, want ErrBusy", err)
	}
	if err := b.Retry(ctx, id); !errors.Is(err, outbox.ErrBusy) {
		t.Errorf("Retry of a held entry: %v, want ErrBusy", err)
	}
	// The holder records an attempt and lets go until later.
	e.Attempts = 1
	e.NextAttempt = time.Now().Add(time.Hour)
	e.Recipients[0].Reason = "try later"
	if err := a.Update(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, e); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Errorf("Update after Release: %v, want ErrLeaseLost", err)
	}
	if err := a.Finish(ctx, e); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Errorf("Finish after Release: %v, want ErrLeaseLost", err)
	}
	time.Sleep(60 * time.Millisecond) // past the rescan pause of b
	other, next, err := b.Claim(ctx, time.Minute)
	if other != nil || err != nil || next.Before(time.Now().Add(59*time.Minute)) {
		t.Errorf("Claim of an entry due in an hour: %+v, next %v, %v; want nothing, next in an hour", other, next, err)
	}
	got, err := b.Get(ctx, id)
	if err != nil || got.Leased || got.Attempts != 1 || got.Recipients[0].Reason != "try later" {
		t.Errorf("Get after Release: %+v, %v; want the recorded attempt, not leased", got, err)
	}
	if err := b.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // past the rescan pause of a
	e2, _, err := a.Claim(ctx, time.Minute)
	if err != nil || e2 == nil || e2.ID != id || e2.Lease == e.Lease {
		t.Fatalf("Claim after Retry: %+v, %v; want entry %s under a new lease", e2, err, id)
	}
	if err := a.Finish(ctx, e2); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, id); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("Get after Finish: %v, want ErrNotFound", err)
	}
	if names := dirNames(t, filepath.Join(a.Dir(), "tmp")); len(names) != 0 {
		t.Errorf("tmp/ holds %q after Finish", names)
	}
}

func TestSpoolDelete(t *testing.T) {
	s := openSpool(t)
	ctx := testContext(t)
	id := enqueue(t, s, 1, 100)
	keep := enqueue(t, s, 2, 100)
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	es := listAll(t, s)
	if len(es) != 1 || es[0].ID != keep {
		t.Errorf("List after Delete: %+v, want only %s", es, keep)
	}
	e, _, err := s.Claim(ctx, time.Minute)
	if err != nil || e == nil || e.ID != keep {
		t.Errorf("Claim after Delete: %+v, %v; want %s", e, err, keep)
	}
}

// TestSpoolRefusesIDsThatArePaths: an ID from a command line never names
// a file outside the spool.
func TestSpoolRefusesIDsThatArePaths(t *testing.T) {
	s := openSpool(t)
	ctx := testContext(t)
	victim := filepath.Join(filepath.Dir(s.Dir()), "victim")
	os.MkdirAll(filepath.Join(victim, "queue"), 0o700)
	for _, id := range []string{"", "..", "../victim", "/etc", "0123456789abcdef0123456/", "0123456789ABCDEF01234567"} {
		if _, err := s.Get(ctx, id); !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("Delete(%q): %v, want ErrNotFound", id, err)
		}
		if err := s.Retry(ctx, id); !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("Retry(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := s.Open(ctx, id); !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("Open(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("the directory beside the spool is gone: %v", err)
	}
}

// TestSpoolCleansWhatDeadWritersLeft: directories in tmp/ that nobody
// holds and that are old are removed when the spool is opened; one that
// is fresh may be an Enqueue about to lock it, and stays.
func TestSpoolCleansWhatDeadWritersLeft(t *testing.T) {
	s := openSpool(t)
	tmp := filepath.Join(s.Dir(), "tmp")
	old := filepath.Join(tmp, "0000000000000001deadbeef")
	fresh := filepath.Join(tmp, "0000000000000002deadbeef")
	for _, d := range []string{old, fresh} {
		os.Mkdir(d, 0o700)
		os.WriteFile(filepath.Join(d, "message"), []byte("half a mess"), 0o600)
	}
	past := time.Now().Add(-2 * time.Minute)
	os.Chtimes(old, past, past)
	s2, err := outbox.OpenSpool(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if names := dirNames(t, tmp); len(names) != 1 || names[0] != filepath.Base(fresh) {
		t.Errorf("tmp/ holds %q after opening, want only the fresh directory", names)
	}
}

// mountTmpfs mounts a tmpfs of size bytes at a new directory, when the
// test runs as root on Linux; otherwise it skips.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root on Linux")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestSpoolDiskFull: on a full file system Enqueue says so, says the
// message was not queued, matches syscall.ENOSPC, and leaves nothing
// behind; once there is room again it works.
func TestSpoolDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "512k")
	s, err := outbox.OpenSpool(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	_, err = s.Enqueue(testContext(t), env, bytes.NewReader(message(1, 2<<20)))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "full") || !strings.Contains(err.Error(), "not queued") {
		t.Fatalf("Enqueue on a full disk: %v; want ENOSPC, saying the disk is full and the message not queued", err)
	}
	if es := listAll(t, s); len(es) != 0 {
		t.Errorf("%d entries after a failed enqueue", len(es))
	}
	if names := dirNames(t, filepath.Join(s.Dir(), "tmp")); len(names) != 0 {
		t.Errorf("tmp/ holds %q after a failed enqueue", names)
	}
	if _, err := s.Enqueue(testContext(t), env, bytes.NewReader(message(2, 1000))); err != nil {
		t.Errorf("Enqueue of a small message once the space is free again: %v", err)
	}
}

// TestSpoolReadOnly: a spool on a read-only file system opens and lists,
// and Enqueue says why it cannot queue.
func TestSpoolReadOnly(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	s, err := outbox.OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := enqueue(t, s, 1, 100)
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	ro, err := outbox.OpenSpool(dir)
	if err != nil {
		t.Fatalf("opening a read-only spool: %v", err)
	}
	defer ro.Close()
	if es := listAll(t, ro); len(es) != 1 || es[0].ID != id {
		t.Errorf("List of a read-only spool: %+v, want entry %s", es, id)
	}
	_, err = ro.Enqueue(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader("m\r\n"))
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), "not queued") {
		t.Errorf("Enqueue on a read-only spool: %v; want EROFS, saying so and that the message was not queued", err)
	}
	if err := ro.Delete(testContext(t), id); !errors.Is(err, syscall.EROFS) {
		t.Errorf("Delete on a read-only spool: %v, want EROFS", err)
	}
}

// TestSpoolNotWritable: without write permission (as a user other than
// root), Enqueue says what to check.
func TestSpoolNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes through permissions; TestSpoolReadOnly covers a read-only spool")
	}
	s := openSpool(t)
	os.Chmod(filepath.Join(s.Dir(), "tmp"), 0o500)
	defer os.Chmod(filepath.Join(s.Dir(), "tmp"), 0o700)
	_, err := s.Enqueue(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader("m\r\n"))
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "permission") {
		t.Errorf("Enqueue in a spool without write permission: %v", err)
	}
}

// TestRunnerStoreTurnsReadOnly: the spool's disk turns read-only while the
// server takes a message, so its removal fails. Flush says so; later runs
// send nothing again while the disk stays read-only, and remove the entry
// once it is writable again.
func TestRunnerStoreTurnsReadOnly(t *testing.T) {
	dir := mountTmpfs(t, "4m")
	s, err := outbox.OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := enqueue(t, s, 1, 500)
	remount := func(mode string) {
		if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
			t.Errorf("remount %s: %v: %s", mode, err, out)
		}
	}
	var once sync.Once
	rec := &recorder{data: func(d *delivery) error {
		once.Do(func() { remount("ro") })
		return nil
	}}
	srv := newServer(t, rec)
	var rep reports
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr), MinDelay: 20 * time.Millisecond, Report: rep.add}
	if err := r.Flush(testContext(t)); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Flush with a disk turned read-only: %v, want EROFS", err)
	}
	for range 3 {
		time.Sleep(60 * time.Millisecond) // past the pause
		if err := r.Flush(testContext(t)); !errors.Is(err, syscall.EROFS) {
			t.Errorf("Flush on a disk still read-only: %v, want EROFS", err)
		}
	}
	if _, err := s.Get(testContext(t), id); err != nil {
		t.Errorf("the entry is gone from a read-only disk: %v", err)
	}
	remount("rw")
	time.Sleep(60 * time.Millisecond)
	if err := r.Flush(testContext(t)); err != nil {
		t.Fatalf("Flush once the disk is writable again: %v", err)
	}
	if n := len(rec.deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1: the outcome kept in memory must stop the resends", n)
	}
	if es := listAll(t, s); len(es) != 0 {
		t.Errorf("%d entries left once the disk was writable again", len(es))
	}
	if st := r.Stats(); st.StoreErrors < 4 || len(rep.all()) != 1 {
		t.Errorf("Stats %+v, %d reports; want the store errors counted and one report", st, len(rep.all()))
	}
}

// TestEnqueueRefusesWhatNoServerTakes: the envelope is checked by the
// library's one set of rules before anything is written.
func TestEnqueueRefusesWhatNoServerTakes(t *testing.T) {
	s, err := outbox.OpenSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Enqueue(context.Background(), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@@y.test"}}, strings.NewReader("hi\r\n"))
	if !errors.Is(err, smtpkit.ErrInvalidArgument) {
		t.Errorf("err = %v, want ErrInvalidArgument", err)
	}
	if list, _ := s.List(context.Background()); len(list) != 0 {
		t.Errorf("%d entries queued, want none", len(list))
	}
}
