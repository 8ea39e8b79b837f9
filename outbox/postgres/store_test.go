package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/outbox/postgres"
)

func TestMigrate(t *testing.T) {
	d := newDatabase(t)
	ctx := testContext(t)
	if v, err := postgres.Migrate(ctx, d.db); err != nil || v != 1 {
		t.Fatalf("Migrate again: version %d, %v; want 1 and nothing done", v, err)
	}
	var n int
	if err := d.db.QueryRow(ctx, `SELECT count(*) FROM smtpkit_outbox_migrations`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows of migrations (%v), want 1", n, err)
	}

	// A schema without the tables: New says what to run.
	if _, err := d.db.Exec(ctx, `CREATE SCHEMA `+d.schema+`_empty`); err != nil {
		t.Fatal(err)
	}
	defer d.db.Exec(context.Background(), `DROP SCHEMA `+d.schema+`_empty CASCADE`)
	empty, err := postgres.Open(ctx, strings.Replace(d.url, "search_path="+d.schema, "search_path="+d.schema+"_empty", 1))
	if err == nil {
		empty.Close()
		t.Fatal("Open on a schema without the tables succeeded")
	}
	if !strings.Contains(err.Error(), "smtpkit-outbox migrate") {
		t.Errorf("Open on a schema without the tables: %v; want it to name the command that makes them", err)
	}
}

// TestRolledBackTransactionSendsNothing: an entry enqueued in a
// transaction that rolls back does not exist and is never sent; one whose
// transaction commits is, with the application's own row.
func TestRolledBackTransactionSendsNothing(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, nil)
	ctx := testContext(t)
	if _, err := d.db.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	order := func(id, n int, commit bool) {
		t.Helper()
		tx, err := d.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1)`, id); err != nil {
			t.Fatal(err)
		}
		// One short message and one long enough to be streamed.
		if _, err := s.EnqueueTx(ctx, tx, envelope(n), bytes.NewReader(message(n, 100))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EnqueueTx(ctx, tx, envelope(n+1), bytes.NewReader(message(n+1, 3*postgres.ChunkSize+5))); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	order(1, 10, false)
	order(2, 20, true)
	if es := listAll(t, s); len(es) != 2 || es[0].Envelope.From != "sender20@x.test" || es[1].Envelope.From != "sender21@x.test" {
		t.Fatalf("after one transaction rolled back and one committed, the store lists %+v; want messages 20 and 21", es)
	}
	var orphans int
	if err := d.db.QueryRow(ctx, `SELECT count(*) FROM smtpkit_outbox_chunks c
		WHERE NOT EXISTS (SELECT 1 FROM smtpkit_outbox_entries e WHERE e.id = c.entry_id)`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("%d chunks without an entry (%v)", orphans, err)
	}

	srv := newServer(t, nil)
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr, testOptions())}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := srv.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d messages delivered, want the 2 committed", len(got))
	}
	for _, dl := range got {
		n, _ := senderNumber(dl.From)
		size := 100
		if n == 21 {
			size = 3*postgres.ChunkSize + 5
		}
		if n != 20 && n != 21 || !bytes.Equal(dl.Data, message(n, size)) {
			t.Errorf("delivered message %d (%d bytes); want 20 or 21, intact", n, len(dl.Data))
		}
	}
	if es := listAll(t, s); len(es) != 0 {
		t.Errorf("%d entries left after delivery", len(es))
	}
}

// TestEnqueueTxReaderFails: a message whose reader fails is not queued,
// and the caller's transaction goes on as if the call was not made.
func TestEnqueueTxReaderFails(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, nil)
	ctx := testContext(t)
	boom := errors.New("the disk went away")
	tx, err := d.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, size := range []int{100, 2*postgres.ChunkSize + 10} {
		msg := io.MultiReader(bytes.NewReader(message(1, size)), iotest.ErrReader(boom))
		if _, err := s.EnqueueTx(ctx, tx, envelope(1), msg); !errors.Is(err, boom) || !strings.Contains(err.Error(), "not queued") {
			t.Errorf("EnqueueTx of %d bytes with a failing reader: %v; want the reader's error, saying nothing was queued", size, err)
		}
	}
	id, err := s.EnqueueTx(ctx, tx, envelope(2), bytes.NewReader(message(2, 100)))
	if err != nil {
		t.Fatalf("EnqueueTx after a failed one: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit after a failed EnqueueTx: %v", err)
	}
	if es := listAll(t, s); len(es) != 1 || es[0].ID != id {
		t.Errorf("the store lists %+v; want only %s", es, id)
	}
	var chunks int
	d.db.QueryRow(ctx, `SELECT count(*) FROM smtpkit_outbox_chunks`).Scan(&chunks)
	if chunks != 1 {
		t.Errorf("%d chunks stored, want the 1 of the message queued", chunks)
	}

	// An invalid envelope is refused before anything is written.
	if _, err := s.Enqueue(ctx, &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test\r\nRCPT TO:<c@z.test>"}},
		strings.NewReader("x")); !errors.Is(err, smtpkit.ErrInvalidArgument) {
		t.Errorf("Enqueue with CR LF in a recipient: %v, want ErrInvalidArgument", err)
	}
}

// TestLeases walks one entry through the Store's calls and their errors.
func TestLeases(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, nil)
	other := d.store(t, nil)
	ctx := testContext(t)
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test", "c@y.test"}, Size: 0, Body: smtpkit.Body8BitMIME,
		DSN: &smtpkit.DSN{Return: "HDRS", EnvelopeID: "env-1", Notify: []string{"FAILURE"}}, RequireTLS: true}
	id, err := s.Enqueue(ctx, env, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := s.Claim(ctx, time.Minute)
	if err != nil || e == nil || e.ID != id {
		t.Fatalf("Claim: %+v, %v; want %s", e, err, id)
	}
	if e.Envelope.DSN == nil || e.Envelope.DSN.EnvelopeID != "env-1" || !e.Envelope.RequireTLS || e.Envelope.Body != smtpkit.Body8BitMIME ||
		len(e.Pending()) != 2 || e.Size != int64(len("Subject: hi\r\n\r\nhello\r\n")) {
		t.Errorf("claimed %+v; want the envelope as enqueued, both recipients pending", e)
	}
	if e2, next, err := other.Claim(ctx, time.Minute); e2 != nil || err != nil || next.IsZero() {
		t.Errorf("a second Claim while the entry is held: %+v, next %v, %v; want nothing, and a time to look again", e2, next, err)
	}
	if g, err := other.Get(ctx, id); err != nil || !g.Leased {
		t.Errorf("Get of a held entry: %+v, %v; want Leased", g, err)
	}
	if err := other.Retry(ctx, id); !errors.Is(err, outbox.ErrBusy) {
		t.Errorf("Retry of a held entry: %v, want ErrBusy", err)
	}
	if err := other.Delete(ctx, id); !errors.Is(err, outbox.ErrBusy) {
		t.Errorf("Delete of a held entry: %v, want ErrBusy", err)
	}
	forged := *e
	forged.Lease = "not-the-token"
	if err := other.Update(ctx, &forged); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Errorf("Update under another lease: %v, want ErrLeaseLost", err)
	}
	if err := other.Finish(ctx, &forged); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Errorf("Finish under another lease: %v, want ErrLeaseLost", err)
	}

	// An attempt: one recipient delivered, one deferred for an hour.
	e.Recipients[0].Status = outbox.Delivered
	e.Recipients[0].Reply = smtpkit.Reply{Code: 250, Enhanced: [3]int{2, 0, 0}, Lines: []string{"ok"}}
	e.Recipients[1].Reply = smtpkit.Reply{Code: 451, Enhanced: [3]int{4, 3, 0}, Lines: []string{"later"}}
	e.Attempts, e.Doubts, e.LastError = 1, 1, "451 4.3.0 later"
	e.NextAttempt = time.Now().Add(time.Hour).Truncate(time.Microsecond)
	if err := s.Update(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, e); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Errorf("a second Release: %v, want ErrLeaseLost", err)
	}
	g, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if g.Leased || g.Attempts != 1 || g.Doubts != 1 || g.LastError != "451 4.3.0 later" || !g.NextAttempt.Equal(e.NextAttempt) ||
		g.Recipients[0].Status != outbox.Delivered || g.Recipients[0].Reply.Lines[0] != "ok" || g.Recipients[1].Reply.Code != 451 {
		t.Errorf("after Update and Release, Get returns %+v", g)
	}
	if e2, next, err := s.Claim(ctx, time.Minute); e2 != nil || err != nil || !next.Equal(e.NextAttempt) {
		t.Errorf("Claim before the entry is due: %+v, next %v, %v; want nothing until %v", e2, next, err, e.NextAttempt)
	}

	// Retry makes it due, and wakes the runners of every Store.
	wake := other.Wake()
	if err := s.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Error("Retry did not wake the runners of another Store")
	}
	e, _, err = other.Claim(ctx, time.Minute)
	if err != nil || e == nil || e.ID != id || e.Pending()[0] != "c@y.test" || len(e.Pending()) != 1 {
		t.Fatalf("Claim after Retry: %+v, %v; want %s with c@y.test pending", e, err, id)
	}
	msg, err := other.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(msg)
	msg.Close()
	if err != nil || string(b) != "Subject: hi\r\n\r\nhello\r\n" {
		t.Errorf("Open: %q, %v", b, err)
	}
	if err := other.Finish(ctx, e); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{s.Retry(ctx, id), s.Delete(ctx, id), func() error { _, err := s.Get(ctx, id); return err }(),
		func() error { _, err := s.Open(ctx, id); return err }()} {
		if !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("after Finish: %v, want ErrNotFound", err)
		}
	}
	var chunks int
	d.db.QueryRow(ctx, `SELECT count(*) FROM smtpkit_outbox_chunks`).Scan(&chunks)
	if chunks != 0 {
		t.Errorf("%d chunks left after Finish", chunks)
	}

	// Delete of an entry nobody holds.
	id = enqueue(t, s, 5, 100)
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if es := listAll(t, s); len(es) != 0 {
		t.Errorf("%d entries after Delete", len(es))
	}
}

// line is the line of the lines reader.
const line = "0123456789 the quick brown fox jumps over the lazy dog 0123456789\r\n"

// lines is an endless message of CRLF lines, made as it is read.
type lines struct{ n int }

func (l *lines) Read(p []byte) (int, error) {
	i := 0
	for i < len(p) {
		c := copy(p[i:], line[l.n%len(line):])
		l.n += c
		i += c
	}
	return i, nil
}

// heapGrowth runs f and returns how far the heap grew above its size
// before f, at the most, sampled every millisecond. A message held whole
// in memory would show; the garbage of a buffer per chunk would not, once
// collected (the race detector disables the buffer pools).
func heapGrowth(f func() error) (uint64, error) {
	const name = "/memory/classes/heap/objects:bytes"
	sample := []metrics.Sample{{Name: name}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var top uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > top {
				top = v
			}
			select {
			case <-stop:
				peak <- top
				return
			case <-t.C:
			}
		}
	}()
	err := f()
	close(stop)
	top := <-peak
	if top < base {
		return 0, err
	}
	return top - base, err
}

// TestLargeMessageStreamed: a message many chunks long goes in and out
// without being held in memory, intact, and its reader seeks.
func TestLargeMessageStreamed(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, nil)
	ctx := testContext(t)
	size := int64(24 << 20)
	size -= size % int64(len(line)) // whole lines, so the size sent is the size stored
	want := sha256.New()
	io.Copy(want, io.LimitReader(&lines{}, size))

	var id string
	grew, err := heapGrowth(func() (err error) {
		id, err = s.Enqueue(ctx, &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, io.LimitReader(&lines{}, size))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("enqueueing %d MiB grew the heap by %.1f MiB at its peak", size>>20, float64(grew)/(1<<20))
	if grew > uint64(size/3) {
		t.Errorf("enqueueing %d MiB grew the heap by %d MiB at its peak; want it streamed", size>>20, grew>>20)
	}
	if e, err := s.Get(ctx, id); err != nil || e.Size != size {
		t.Fatalf("Get: %+v, %v; want %d bytes", e, err, size)
	}

	msg, err := s.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	if n, err := io.Copy(got, msg); err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("read back %d bytes (%v); want %d, the same", n, err, size)
	}
	seeker := msg.(io.Seeker)
	off := int64(3*postgres.ChunkSize - 10)
	if _, err := seeker.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 30)
	if _, err := io.ReadFull(msg, buf); err != nil {
		t.Fatal(err)
	}
	expect := make([]byte, off+30)
	io.ReadFull(&lines{}, expect)
	if !bytes.Equal(buf, expect[off:]) {
		t.Errorf("after Seek(%d) across a chunk's end: %q, want %q", off, buf, expect[off:])
	}
	msg.Close()

	srv := newServer(t, func(s *server) { s.discard = true })
	r := &outbox.Runner{Store: s, Pool: newPool(t, srv.Addr, testOptions())}
	grew, err = heapGrowth(func() error { return r.Flush(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	// The server (go-smtp, in this process) holds some of it as it reads,
	// too; the bound is far below the message.
	t.Logf("delivering %d MiB grew the heap by %.1f MiB at its peak", size>>20, float64(grew)/(1<<20))
	if grew > uint64(size/3) {
		t.Errorf("delivering %d MiB grew the heap by %d MiB at its peak; want it streamed", size>>20, grew>>20)
	}
	if dl := srv.deliveries(); len(dl) != 1 || dl[0].Size != size {
		t.Errorf("the server got %+v; want one message of %d bytes", dl, size)
	}
}

// TestLeaseEndsWithHolder: an entry held by a process that is killed is
// free again at once, though its lease had an hour to go.
func TestLeaseEndsWithHolder(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, nil)
	id := enqueue(t, s, 1, 100)
	c := startChild(t, "claim", dbEnv+"="+d.url)
	if line := c.expect(t, "C "); line != "C "+id {
		t.Fatalf("the child claimed %q, want %s", line, id)
	}
	ctx := testContext(t)
	time.Sleep(1100 * time.Millisecond) // past the pause between two rescues
	if e, _, err := s.Claim(ctx, time.Minute); e != nil || err != nil {
		t.Fatalf("claimed %+v (%v) while a live child held it", e, err)
	}
	if g, err := s.Get(ctx, id); err != nil || !g.Leased {
		t.Fatalf("Get: %+v, %v; want it leased by the child", g, err)
	}
	c.kill()
	var e *outbox.Entry
	waitFor(t, "the entry of the killed child", 10*time.Second, func() bool {
		var err error
		e, _, err = s.Claim(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return e != nil
	})
	if e.ID != id {
		t.Fatalf("claimed %s, want %s", e.ID, id)
	}
	if err := s.Release(ctx, e); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesTruncation: a message whose rows went away while it was
// read fails instead of ending early.
func TestOpenRefusesTruncation(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, nil)
	ctx := testContext(t)
	id := enqueue(t, s, 1, 2*postgres.ChunkSize+100)
	msg, err := s.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer msg.Close()
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(msg, buf); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, msg); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading on after the entry was deleted: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestStoreClosed: a closed Store takes no lease.
func TestStoreClosed(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, nil)
	enqueue(t, s, 1, 100)
	s.Close()
	if e, _, err := s.Claim(testContext(t), time.Minute); e != nil || err == nil {
		t.Errorf("Claim on a closed Store: %+v, %v; want an error", e, err)
	}
}

// TestEnqueueOnce: a key queues its message once, whoever commits first,
// for as long as the key is kept; a transaction rolled back lets go of it.
func TestEnqueueOnce(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, &postgres.Options{KeepKeys: time.Hour})
	ctx := testContext(t)
	once := func(key string, n int, commit bool) (string, bool) {
		t.Helper()
		tx, err := d.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		id, queued, err := s.EnqueueOnce(ctx, tx, key, envelope(n), bytes.NewReader(message(n, 100)))
		if err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return id, queued
	}
	if _, queued := once("welcome:1", 1, false); !queued {
		t.Fatal("the first EnqueueOnce of a key queued nothing")
	}
	id, queued := once("welcome:1", 2, true)
	if !queued {
		t.Fatal("EnqueueOnce after a transaction with the key rolled back queued nothing")
	}
	tx, err := d.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, queued, err := s.EnqueueOnce(ctx, tx, "welcome:1", envelope(3), iotest.ErrReader(errors.New("read")))
	tx.Commit(ctx)
	if err != nil || queued || again != id {
		t.Fatalf("EnqueueOnce of a key queued already: %s, queued %v, %v; want %s, nothing queued, msg unread", again, queued, err, id)
	}

	// Two transactions with one key: the second waits for the first, and
	// queues only if the first rolls back.
	for _, commitFirst := range []bool{true, false} {
		key := fmt.Sprint("race:", commitFirst)
		first, err := d.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		firstID, _, err := s.EnqueueOnce(ctx, first, key, envelope(10), bytes.NewReader(message(10, 100)))
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			id     string
			queued bool
			err    error
		}
		second := make(chan result, 1)
		go func() {
			tx, err := d.db.Begin(ctx)
			if err != nil {
				second <- result{err: err}
				return
			}
			defer tx.Rollback(ctx)
			id, queued, err := s.EnqueueOnce(ctx, tx, key, envelope(11), bytes.NewReader(message(11, 100)))
			if err == nil {
				err = tx.Commit(ctx)
			}
			second <- result{id, queued, err}
		}()
		select {
		case r := <-second:
			t.Fatalf("the second EnqueueOnce of a key returned %+v while the first transaction was open", r)
		case <-time.After(200 * time.Millisecond):
		}
		if commitFirst {
			err = first.Commit(ctx)
		} else {
			err = first.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		r := <-second
		switch {
		case r.err != nil:
			t.Fatal(r.err)
		case commitFirst && (r.queued || r.id != firstID):
			t.Errorf("after the first committed, the second EnqueueOnce: %+v; want nothing queued and %s", r, firstID)
		case !commitFirst && !r.queued:
			t.Errorf("after the first rolled back, the second EnqueueOnce queued nothing")
		}
	}
	var n int
	for _, e := range listAll(t, s) {
		if n2, _ := senderNumber(e.Envelope.From); n2 >= 10 {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d entries from the two races, want 2 (one each)", n)
	}

	// A key kept for a short while only lets a message through again.
	short := d.store(t, &postgres.Options{KeepKeys: 50 * time.Millisecond})
	tx, _ = d.db.Begin(ctx)
	if _, queued, err := short.EnqueueOnce(ctx, tx, "soon", envelope(20), strings.NewReader("x")); err != nil || !queued {
		t.Fatalf("EnqueueOnce: queued %v, %v", queued, err)
	}
	tx.Commit(ctx)
	time.Sleep(100 * time.Millisecond)
	tx, _ = d.db.Begin(ctx)
	if _, queued, err := short.EnqueueOnce(ctx, tx, "soon", envelope(21), strings.NewReader("x")); err != nil || !queued {
		t.Errorf("EnqueueOnce after the key's time: queued %v, %v; want queued", queued, err)
	}
	tx.Commit(ctx)
}

// TestSessionLost: when the Store's own session is cut, the Store
// reconnects, moves its leases to the new session (so no other process
// takes them for a dead holder's), and hears notifications again.
func TestSessionLost(t *testing.T) {
	d := newDatabase(t)
	s := d.store(t, nil)
	other := d.store(t, nil)
	ctx := testContext(t)
	id := enqueue(t, s, 1, 100)
	e, _, err := s.Claim(ctx, time.Hour)
	if err != nil || e == nil {
		t.Fatalf("Claim: %+v, %v", e, err)
	}
	holder := func() (pid int32) {
		t.Helper()
		if err := d.db.QueryRow(ctx, `SELECT lease_holder FROM smtpkit_outbox_entries WHERE id = $1`, id).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	old := holder()
	var killed bool
	if err := d.db.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, old).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating the Store's session %d: %v, %v", old, killed, err)
	}
	waitFor(t, "the lease moved to a new session", 10*time.Second, func() bool { return holder() != old })
	if got, _, err := other.Claim(ctx, time.Hour); got != nil || err != nil {
		t.Errorf("another Store claimed %+v (%v) after the holder's session came back", got, err)
	}
	e.Attempts = 1
	if err := s.Update(ctx, e); err != nil {
		t.Errorf("Update under the lease after the session came back: %v", err)
	}
	wake := s.Wake()
	enqueue(t, other, 2, 100)
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Error("the Store heard no notification after its session came back")
	}
	if err := s.Release(ctx, e); err != nil {
		t.Fatal(err)
	}
}
