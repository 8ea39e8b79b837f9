package outbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Spool is a Store in a directory, laid out as mail transfer agents keep
// their queues:
//
//	DIR/tmp/ID/      an entry being written, or being removed
//	DIR/queue/ID/    a queued entry: message (the message as enqueued)
//	                 and entry.json (envelope and delivery state)
//
// An entry appears in queue/ by one rename of a complete, synced
// directory, and leaves it by one rename back to tmp/; its state changes by
// a rename over entry.json. The lease on an entry is an flock on its
// directory, which the kernel drops when its holder dies. See the package
// documentation for the guarantees.
//
// A Spool is safe for concurrent use, and any number of processes may open
// the same directory.
type Spool struct {
	dir       string
	queueSync *dirSync // syncs of queue/, shared by concurrent callers

	mu      sync.Mutex
	leases  map[string]*held // by lease token
	due     []string         // IDs found due by the last scan, or enqueued since, oldest first
	next    time.Time        // the earliest NextAttempt after the last scan that is not due yet
	scanned time.Time        // when the last scan ran
	cleaned time.Time        // when tmp/ was last cleaned
	wake    chan struct{}    // closed and replaced when an entry is enqueued or falls due
}

// held is a lease this Spool holds: the entry's locked directory.
type held struct {
	id   string
	lock *os.File
}

// Timings of a Spool's housekeeping.
const (
	rescanEvery  = 50 * time.Millisecond // the shortest time between two scans of queue/ when nothing is known to be due
	cleanEvery   = 10 * time.Minute      // how often a scan also cleans tmp/
	staleTmpDirs = time.Minute           // an unlocked directory in tmp/ this old is a leftover
)

// errLocked means another holds the lock on an entry.
var errLocked = errors.New("locked")

// OpenSpool opens the spool in dir, creating it (mode 0700) when missing,
// and removes what writers that died left in its tmp/ directory. A spool
// on a read-only file system opens, for List and Get.
func OpenSpool(dir string) (*Spool, error) {
	if !locking {
		_, err := lockDir(dir)
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: abs, leases: map[string]*held{}, wake: make(chan struct{})}
	s.queueSync = newDirSync(s.queue())
	for _, d := range []string{abs, s.tmp(), s.queue()} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fsError("creating the spool", err)
		}
		if st, err := os.Stat(d); err != nil {
			return nil, fsError("opening the spool", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("outbox: %s is not a directory", d)
		}
	}
	s.clean()
	return s, nil
}

// Dir returns the spool's directory, as an absolute path.
func (s *Spool) Dir() string { return s.dir }

func (s *Spool) tmp() string   { return filepath.Join(s.dir, "tmp") }
func (s *Spool) queue() string { return filepath.Join(s.dir, "queue") }

// entryDir returns the directory of the entry id in queue/.
func (s *Spool) entryDir(id string) string { return filepath.Join(s.queue(), id) }

// fsError words a failure of the spool's file system: what was being done,
// what to do about it, and the cause (matched with errors.Is, such as
// syscall.ENOSPC).
func fsError(doing string, err error) error {
	if a := fsAdvice(err); a != "" {
		return fmt.Errorf("outbox: %s: %s: %w", doing, a, err)
	}
	return fmt.Errorf("outbox: %s: %w", doing, err)
}

// validID reports whether id is an ID this package makes: hex digits only,
// so an ID from a command line can never name a path outside the spool.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// idLen is the length of an ID: 16 hex digits of the enqueue time in
// nanoseconds, so IDs sort by age, and 8 random ones.
const idLen = 24

func newID(now time.Time) string {
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("%016x%s", uint64(now.UnixNano()), hex.EncodeToString(r[:]))
}

func newToken() string {
	var r [16]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// lock takes the lock of the entry id and reads its state: errLocked when
// another holds it, an error matching fs.ErrNotExist when it is gone.
func (s *Spool) lock(id string) (*Entry, *os.File, error) {
	dir := s.entryDir(id)
	f, err := lockDir(dir)
	if err != nil {
		return nil, nil, err
	}
	// The entry may have been finished between our open and our lock:
	// the lock is then on a directory that left queue/.
	locked, err1 := f.Stat()
	named, err2 := os.Stat(dir)
	if err1 != nil || err2 != nil || !os.SameFile(locked, named) {
		f.Close()
		return nil, nil, &fs.PathError{Op: "lock", Path: dir, Err: fs.ErrNotExist}
	}
	e, err := readEntry(dir)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return e, f, nil
}

// notify wakes the runners of this Spool waiting for work.
func (s *Spool) notify() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

// enqueued returns a channel closed when an entry is enqueued through s or
// a lease is released with an earlier NextAttempt than s knew of.
func (s *Spool) enqueued() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

// scanned entry: its ID and when it is due.
type scanned struct {
	id      string
	next    time.Time
	created time.Time
}

// scan reads the state of every entry in queue/, oldest first. Entries it
// cannot read are skipped; their errors are returned joined.
func (s *Spool) scan() ([]scanned, error) {
	des, err := os.ReadDir(s.queue())
	if err != nil {
		return nil, fsError("reading the spool", err)
	}
	var out []scanned
	var errs []error
	for _, de := range des {
		if !validID(de.Name()) {
			continue
		}
		e, err := readEntry(s.entryDir(de.Name()))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // finished meanwhile
				errs = append(errs, err)
			}
			continue
		}
		out = append(out, scanned{id: e.ID, next: e.NextAttempt, created: e.Created})
	}
	slices.SortFunc(out, func(a, b scanned) int {
		return cmp.Or(a.next.Compare(b.next), cmp.Compare(a.id, b.id))
	})
	return out, errors.Join(errs...)
}

// clean removes the directories in tmp/ that nobody holds and that are old
// enough not to be an Enqueue that has not locked its directory yet:
// writes that died, and finished entries whose removal was cut short.
func (s *Spool) clean() {
	des, err := os.ReadDir(s.tmp())
	if err != nil {
		return
	}
	for _, de := range des {
		dir := filepath.Join(s.tmp(), de.Name())
		st, err := os.Lstat(dir)
		if err != nil || time.Since(st.ModTime()) < staleTmpDirs {
			continue
		}
		if !st.IsDir() {
			os.Remove(dir)
			continue
		}
		f, err := lockDir(dir)
		if err != nil {
			continue
		}
		os.RemoveAll(dir)
		f.Close()
	}
	s.mu.Lock()
	s.cleaned = time.Now()
	s.mu.Unlock()
}

// List returns every entry in the spool, oldest first, with Leased set for
// those a runner holds. Entries whose state cannot be read are left out
// and named in the error, which comes with the others.
func (s *Spool) List(ctx context.Context) ([]Entry, error) {
	des, err := os.ReadDir(s.queue())
	if err != nil {
		return nil, fsError("reading the spool", err)
	}
	var out []Entry
	var errs []error
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !validID(de.Name()) {
			continue
		}
		e, err := s.get(de.Name())
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			errs = append(errs, err)
		default:
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, errors.Join(errs...)
}

// Get returns the entry id, with Leased set when a runner holds it.
func (s *Spool) Get(ctx context.Context, id string) (*Entry, error) {
	if !validID(id) {
		return nil, fmt.Errorf("outbox: %q is not an entry ID: %w", id, ErrNotFound)
	}
	return s.get(id)
}

func (s *Spool) get(id string) (*Entry, error) {
	dir := s.entryDir(id)
	e, err := readEntry(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("outbox: entry %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: entry %s: %w", id, err)
	}
	// A lock taken and dropped at once tells whether someone holds it.
	if f, err := lockDir(dir); errors.Is(err, errLocked) {
		e.Leased = true
	} else if err == nil {
		f.Close()
	}
	return e, nil
}

// Retry makes the entry id due now, unless a runner holds it (ErrBusy).
func (s *Spool) Retry(ctx context.Context, id string) error {
	err := s.withLock(id, func(e *Entry, f *os.File) error {
		e.NextAttempt = time.Now()
		if err := writeEntry(s.entryDir(id), e); err != nil {
			return fsError("rescheduling entry "+id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.due = append(s.due, id)
	s.mu.Unlock()
	s.notify()
	return nil
}

// Delete removes the entry id without delivering it, unless a runner holds
// it (ErrBusy).
func (s *Spool) Delete(ctx context.Context, id string) error {
	var gone string
	err := s.withLock(id, func(e *Entry, f *os.File) (err error) {
		gone, err = s.remove(id)
		return err
	})
	if gone != "" {
		os.RemoveAll(gone)
	}
	return err
}

// withLock runs do on the entry id under its lock.
func (s *Spool) withLock(id string, do func(*Entry, *os.File) error) error {
	if !validID(id) {
		return fmt.Errorf("outbox: %q is not an entry ID: %w", id, ErrNotFound)
	}
	e, f, err := s.lock(id)
	switch {
	case errors.Is(err, errLocked):
		return fmt.Errorf("outbox: entry %s: %w", id, ErrBusy)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("outbox: entry %s: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("outbox: entry %s: %w", id, err)
	}
	defer f.Close()
	return do(e, f)
}

// remove takes the entry id out of queue/ by one rename to tmp/ and syncs
// queue/ so that the removal survives a crash; the caller deletes the
// files (gone) once it no longer needs the lock. Called under the entry's
// lock.
func (s *Spool) remove(id string) (gone string, err error) {
	gone = filepath.Join(s.tmp(), id)
	if err := os.Rename(s.entryDir(id), gone); err != nil {
		return "", fsError("removing entry "+id, err)
	}
	if err := s.queueSync.sync(); err != nil {
		return gone, fsError("removing entry "+id, err)
	}
	return gone, nil
}

// Close ends every lease still held through s; s must not be used after.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for token, h := range s.leases {
		h.lock.Close()
		delete(s.leases, token)
	}
	return nil
}

// Open returns the message of the entry id, an *os.File.
func (s *Spool) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if !validID(id) {
		return nil, fmt.Errorf("outbox: %q is not an entry ID: %w", id, ErrNotFound)
	}
	f, err := os.Open(filepath.Join(s.entryDir(id), messageFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("outbox: entry %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fsError("opening the message of entry "+id, err)
	}
	return f, nil
}
