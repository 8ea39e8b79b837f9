package smtpkit

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// ModeCache remembers the security mode that Auto or TLS-auto found for a
// network path, so later connections skip the probe and a TLS mode found once
// stays required. Implementations must be safe for concurrent use.
type ModeCache interface {
	// Get returns the mode remembered for key: SecurityImplicitTLS, SecurityStartTLS or SecurityNone.
	Get(key string) (mode Security, ok bool)
	// Put remembers mode for key.
	Put(key string, mode Security)
	// Forget drops what is remembered for key.
	Forget(key string)
}

// rememberable reports whether a mode is one a ModeCache holds: the modes a
// probe settles on, never a policy such as Auto.
func rememberable(mode Security) bool {
	return mode == SecurityImplicitTLS || mode == SecurityStartTLS || mode == SecurityNone
}

// memoryModeCacheMax bounds a memory cache, so a process that reaches a great
// many servers does not grow without end; the oldest entry makes room.
const memoryModeCacheMax = 10000

// NewMemoryModeCache returns a ModeCache held in memory, for the life of the process; a zero Dialer uses one.
//
// It holds up to 10000 entries and forgets the one remembered longest ago
// to make room for another; nothing else expires. Put of a mode other than
// SecurityImplicitTLS, SecurityStartTLS or SecurityNone is ignored.
func NewMemoryModeCache() ModeCache {
	return &memoryModeCache{m: map[string]memoryModeEntry{}}
}

type memoryModeCache struct {
	mu  sync.Mutex
	m   map[string]memoryModeEntry
	seq uint64 // orders entries by when they were put
}

type memoryModeEntry struct {
	mode Security
	seq  uint64
}

func (c *memoryModeCache) Get(key string) (Security, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return e.mode, ok
}

func (c *memoryModeCache) Put(key string, mode Security) {
	if !rememberable(mode) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= memoryModeCacheMax {
		oldest, first := "", true
		for k, e := range c.m {
			if first || e.seq < c.m[oldest].seq {
				oldest, first = k, false
			}
		}
		delete(c.m, oldest)
	}
	c.seq++
	c.m[key] = memoryModeEntry{mode: mode, seq: c.seq}
}

func (c *memoryModeCache) Forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// Limits of a FileModeCache.
const (
	// DefaultModeCacheMaxAge is how long a FileModeCache keeps an entry that
	// is not confirmed again: 30 days, a common HSTS max-age.
	DefaultModeCacheMaxAge = 30 * 24 * time.Hour
	// DefaultModeCacheMaxEntries is how many entries a FileModeCache keeps at most.
	DefaultModeCacheMaxEntries = 1000
)

const (
	// modeFileMax is the largest mode cache file read; a larger one is
	// taken for damaged, and no larger one is ever written.
	modeFileMax = 1 << 20
	// modeKeyMax is the longest key stored in a file.
	modeKeyMax = 1024
	// modeFileVersion is the version of the file format written.
	modeFileVersion = 1
	// modeLockWait is how long a writer waits for another process's lock
	// before it gives up and keeps its change in memory.
	modeLockWait = 2 * time.Second
	// modeRacyWindow is how recent a file's modification time may be and
	// still not be trusted to show a change: a filesystem's clock ticks
	// coarsely, so two writes within one tick can leave the same time.
	modeRacyWindow = 2 * time.Second
)

// FileModeCache is a ModeCache kept in a file, shared by the runs of a program and by processes at once.
//
// Its zero value with Path set is ready to use, as is the value
// NewFileModeCache returns; set the other fields before first use and do not
// copy it after. With Path empty it keeps its entries in memory only, with
// the same limits, so a program can use one whether or not it found a place
// for the file (see DefaultModeCachePath).
//
// The file is JSON, one object with a "version" and the "modes" remembered,
// each with its key, mode name and the time it was last confirmed; keys are
// stored as they are given, so they must hold nothing secret (the keys a
// Dialer builds name the server, proxy, local address and TLS server name,
// never a password). The file is created with mode 0600 and its directory,
// when missing, with 0700. Every change is written to a temporary file in
// the same directory, synced and renamed over the file, so a reader sees
// the old contents or the new, never a part; on Unix systems writers take an
// advisory lock (flock) on a file beside it, named as Path with ".lock"
// added and left in place, and read the file again under the lock, so
// processes writing at once keep each other's entries. Where flock is not
// available, writers do without the lock: the last writer wins.
//
// Get reads the file again when it changed, so a long-running process sees
// what others remember and forget. A file that cannot be read, is not valid,
// is of another version or is larger than 1 MiB is taken as empty, with a
// warning to Logger, and replaced at the next Put. A change that cannot be
// written (a read-only directory, a lock held too long) is logged and kept
// in memory, where Get finds it, and written with the next change that
// succeeds. Nothing about the file ever makes a Get, Put or Forget fail.
//
// An entry expires MaxAge after it was last confirmed by a Put: after that
// the next connection probes afresh. Expiry is what lets a server that
// changed its setup be found again without a user forgetting the entry by
// hand; the price, as with an HSTS max-age, is that a TLS requirement
// lapses if no connection confirms it within MaxAge, and the next probe
// trusts the network as on a first contact. That probe never goes on in
// plaintext after a TLS failure (a certificate that does not verify, a
// refused STARTTLS), and TLS-auto never goes on in plaintext at all; but
// Auto reaches a server that seems to offer no TLS, for instance because
// someone on the path removed STARTTLS from its reply, in plaintext.
//
// Put with the mode already remembered rewrites the file only when its
// confirmation is older than a hundredth of MaxAge, so an entry may expire
// that much early, and a Dialer may confirm on every connection without
// writing on every connection.
type FileModeCache struct {
	// Path is the file; see DefaultModeCachePath.
	Path string
	// MaxAge is how long an entry lasts after it was last confirmed; zero
	// means DefaultModeCacheMaxAge, and a negative value keeps entries until
	// they are forgotten or pushed out by newer ones.
	MaxAge time.Duration
	// MaxEntries is how many entries the file keeps at most, dropping those
	// confirmed longest ago to make room; zero or less means
	// DefaultModeCacheMaxEntries. Fewer are kept when they would not fit in
	// 1 MiB, and keys longer than 1 KiB or not valid UTF-8 are not stored.
	MaxEntries int
	// Logger, when set, receives a warning when the file cannot be read or written.
	Logger *slog.Logger

	now func() time.Time // the clock; nil means time.Now

	wmu sync.Mutex // serialises changes: held across Put and Forget

	mu     sync.Mutex            // guards what follows
	file   map[string]modeEntry  // the file as last read or written
	stamp  modeFileStamp         // the version of the file that file holds
	local  map[string]modeChange // changes not yet written
	loaded bool                  // whether the file was ever read
}

// NewFileModeCache returns a FileModeCache kept in the file at path, with the default limits.
func NewFileModeCache(path string) *FileModeCache {
	return &FileModeCache{Path: path}
}

// ModeEntry is what a ModeCache remembers for one key.
type ModeEntry struct {
	Key       string    // the network path, as the Dialer named it
	Mode      Security  // SecurityImplicitTLS, SecurityStartTLS or SecurityNone
	Confirmed time.Time // when the mode was last found or confirmed
}

// modeEntry is a remembered mode with the time it was last confirmed.
type modeEntry struct {
	mode      Security
	confirmed time.Time
}

// modeChange is a Put or Forget of one key at a time.
type modeChange struct {
	forget bool
	mode   Security
	at     time.Time
}

// apply makes the change to m unless m holds news of the key newer than it.
func (ch modeChange) apply(m map[string]modeEntry, key string) {
	if cur, ok := m[key]; ok && cur.confirmed.After(ch.at) {
		return
	}
	if ch.forget {
		delete(m, key)
	} else {
		m[key] = modeEntry{mode: ch.mode, confirmed: ch.at}
	}
}

// modeFileStamp tells one version of the file from another without reading it.
type modeFileStamp struct {
	info  os.FileInfo // nil: no file
	racy  bool        // modified too recently for its time to tell changes apart
	valid bool        // a stamp was taken
}

func stampOf(fi os.FileInfo) modeFileStamp {
	if fi == nil {
		return modeFileStamp{valid: true}
	}
	age := time.Since(fi.ModTime())
	return modeFileStamp{info: fi, racy: age < modeRacyWindow, valid: true}
}

// same reports whether fi is the file version s was taken from.
func (s modeFileStamp) same(fi os.FileInfo) bool {
	if !s.valid || s.racy || (s.info == nil) != (fi == nil) {
		return false
	}
	return fi == nil || os.SameFile(s.info, fi) && s.info.Size() == fi.Size() && s.info.ModTime().Equal(fi.ModTime())
}

// modeFile is the file's JSON form.
type modeFile struct {
	Version int                      `json:"version"`
	Modes   map[string]modeFileEntry `json:"modes"`
}

type modeFileEntry struct {
	Mode      string    `json:"mode"`
	Confirmed time.Time `json:"confirmed"`
}

func (c *FileModeCache) clock() time.Time {
	if c.now != nil {
		return c.now().Round(0)
	}
	return time.Now().Round(0)
}

func (c *FileModeCache) maxAge() time.Duration {
	if c.MaxAge == 0 {
		return DefaultModeCacheMaxAge
	}
	return c.MaxAge
}

func (c *FileModeCache) maxEntries() int {
	if c.MaxEntries <= 0 {
		return DefaultModeCacheMaxEntries
	}
	return c.MaxEntries
}

func (c *FileModeCache) expired(e modeEntry, now time.Time) bool {
	age := c.maxAge()
	return age > 0 && now.Sub(e.confirmed) >= age
}

func (c *FileModeCache) warn(msg string, err error) {
	if c.Logger != nil {
		c.Logger.Warn("smtpkit: "+msg, "path", c.Path, "err", err)
	}
}

// Get returns the mode remembered for key, unless it has expired.
func (c *FileModeCache) Get(key string) (Security, bool) {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked()
	e, ok := c.lookupLocked(key)
	if !ok || c.expired(e, now) {
		return 0, false
	}
	return e.mode, true
}

// Put remembers mode for key, confirmed now; a mode other than
// SecurityImplicitTLS, SecurityStartTLS or SecurityNone is ignored.
func (c *FileModeCache) Put(key string, mode Security) {
	if !rememberable(mode) {
		return
	}
	if len(key) > modeKeyMax || !utf8.ValidString(key) {
		c.warn("mode cache key not stored", fmt.Errorf("a key must be valid UTF-8 of at most %d bytes; this one has %d", modeKeyMax, len(key)))
		return
	}
	c.change(key, modeChange{mode: mode, at: c.clock()})
}

// Forget drops what is remembered for key.
func (c *FileModeCache) Forget(key string) {
	c.change(key, modeChange{forget: true, at: c.clock()})
}

// Keys returns the entries that have not expired, sorted by key, for a
// program that shows them and lets its user forget some.
func (c *FileModeCache) Keys() []ModeEntry {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked()
	view := c.viewLocked()
	out := make([]ModeEntry, 0, len(view))
	for k, e := range view {
		if !c.expired(e, now) {
			out = append(out, ModeEntry{Key: k, Mode: e.mode, Confirmed: e.confirmed})
		}
	}
	slices.SortFunc(out, func(a, b ModeEntry) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// lookupLocked returns the entry for key in the file with the unwritten changes applied.
func (c *FileModeCache) lookupLocked(key string) (modeEntry, bool) {
	if ch, ok := c.local[key]; ok {
		m := map[string]modeEntry{}
		if e, ok := c.file[key]; ok {
			m[key] = e
		}
		ch.apply(m, key)
		e, ok := m[key]
		return e, ok
	}
	e, ok := c.file[key]
	return e, ok
}

// viewLocked returns the file's entries with the unwritten changes applied.
func (c *FileModeCache) viewLocked() map[string]modeEntry {
	m := maps.Clone(c.file)
	if m == nil {
		m = map[string]modeEntry{}
	}
	for k, ch := range c.local {
		ch.apply(m, k)
	}
	return m
}

// refreshLocked reads the file again when it is not the version last read.
func (c *FileModeCache) refreshLocked() {
	if c.Path == "" {
		c.loaded = true
		return
	}
	f, err := os.Open(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		if !c.stamp.same(nil) {
			c.file, c.stamp, c.loaded = nil, stampOf(nil), true
		}
		return
	}
	if err != nil {
		if c.loaded && !c.stamp.valid {
			return // warned already; keep what was last read
		}
		c.warn("cannot read the mode cache file", err)
		c.stamp, c.loaded = modeFileStamp{}, true
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && c.stamp.same(fi) {
		return
	}
	m, err := readModeFile(f, fi, err)
	if err != nil {
		c.warn("mode cache file unusable; treating it as empty until the next change rewrites it", err)
	}
	c.file, c.stamp, c.loaded = m, stampOf(fi), true
}

// readModeFile parses the open mode cache file f, of which fi (or statErr)
// is the result of Stat. The entries it could read are returned even with
// an error; an error means the file is to be taken as empty.
func readModeFile(f *os.File, fi os.FileInfo, statErr error) (map[string]modeEntry, error) {
	if statErr != nil {
		return nil, statErr
	}
	if fi.Size() > modeFileMax {
		return nil, fmt.Errorf("%d bytes, more than the %d a mode cache file may hold", fi.Size(), modeFileMax)
	}
	data, err := io.ReadAll(io.LimitReader(f, modeFileMax+1))
	if err != nil {
		return nil, err
	}
	if len(data) > modeFileMax {
		return nil, fmt.Errorf("more than the %d bytes a mode cache file may hold", modeFileMax)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil // an empty file is an empty cache
	}
	var mf modeFile
	if err := json.Unmarshal(data, &mf); err != nil {
		return nil, fmt.Errorf("not a mode cache file: %w", err)
	}
	if mf.Version != modeFileVersion {
		return nil, fmt.Errorf("mode cache file version %d, want %d", mf.Version, modeFileVersion)
	}
	m := make(map[string]modeEntry, len(mf.Modes))
	for k, e := range mf.Modes {
		mode, err := ParseSecurity(e.Mode)
		if err != nil || !rememberable(mode) || e.Confirmed.IsZero() || len(k) > modeKeyMax {
			continue // one damaged entry costs only itself
		}
		m[k] = modeEntry{mode: mode, confirmed: e.Confirmed}
	}
	return m, nil
}

// change makes a Put or Forget: in memory at once, then in the file.
func (c *FileModeCache) change(key string, ch modeChange) {
	c.wmu.Lock()
	defer c.wmu.Unlock()

	c.mu.Lock()
	c.refreshLocked()
	cur, ok := c.lookupLocked(key)
	switch {
	case ch.forget && !ok:
		c.mu.Unlock()
		return // nothing to forget
	case !ch.forget && ok && cur.mode == ch.mode && c.fresh(cur, ch.at):
		c.mu.Unlock()
		return // confirmed recently enough: not worth a write
	}
	if c.local == nil {
		c.local = map[string]modeChange{}
	}
	c.local[key] = ch
	pruneChanges(c.local, c.maxEntries())
	changes := maps.Clone(c.local)
	c.mu.Unlock()

	if c.Path == "" {
		c.mu.Lock()
		c.file = c.viewLocked()
		c.prune(c.file, ch.at)
		c.local = nil
		c.mu.Unlock()
		return
	}
	m, stamp, err := c.persist(changes, ch.at)
	if err != nil {
		c.warn("cannot write the mode cache file; the change is kept in memory", err)
		return
	}
	c.mu.Lock()
	c.file, c.stamp, c.loaded = m, stamp, true
	c.local = nil // only change, which holds wmu, adds to it
	c.mu.Unlock()
}

// fresh reports whether e was confirmed so recently, as of now, that a
// confirmation need not be written.
func (c *FileModeCache) fresh(e modeEntry, now time.Time) bool {
	age := c.maxAge()
	return age < 0 || now.Sub(e.confirmed) < age/100
}

// pruneChanges keeps the newest max of changes, so changes that cannot be
// written do not pile up.
func pruneChanges(changes map[string]modeChange, max int) {
	for len(changes) > max {
		oldest, first := "", true
		for k, ch := range changes {
			if first || ch.at.Before(changes[oldest].at) {
				oldest, first = k, false
			}
		}
		delete(changes, oldest)
	}
}

// prune drops expired entries of m and, beyond MaxEntries, the oldest.
func (c *FileModeCache) prune(m map[string]modeEntry, now time.Time) {
	for k, e := range m {
		if c.expired(e, now) {
			delete(m, k)
		}
	}
	dropOldest(m, len(m)-c.maxEntries())
}

// dropOldest drops the n entries of m confirmed longest ago.
func dropOldest(m map[string]modeEntry, n int) {
	if n <= 0 {
		return
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(m[a].confirmed.Compare(m[b].confirmed), cmp.Compare(a, b))
	})
	for _, k := range keys[:min(n, len(keys))] {
		delete(m, k)
	}
}

// persist applies changes to the file under the lock and returns what it
// wrote and the stamp of the file written.
func (c *FileModeCache) persist(changes map[string]modeChange, now time.Time) (map[string]modeEntry, modeFileStamp, error) {
	dir := filepath.Dir(c.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, modeFileStamp{}, err
	}
	unlock, err := lockModeFile(c.Path + ".lock")
	if err != nil {
		return nil, modeFileStamp{}, err
	}
	defer unlock()

	var m map[string]modeEntry
	f, err := os.Open(c.Path)
	switch {
	case err == nil:
		fi, statErr := f.Stat()
		var readErr error
		m, readErr = readModeFile(f, fi, statErr)
		f.Close()
		if readErr != nil {
			c.warn("mode cache file unusable; writing it anew", readErr)
		}
	case !errors.Is(err, os.ErrNotExist):
		c.warn("cannot read the mode cache file; writing it anew", err)
	}
	if m == nil {
		m = map[string]modeEntry{}
	}
	for k, ch := range changes {
		ch.apply(m, k)
	}
	c.prune(m, now)
	data, err := encodeModeFile(m)
	if err != nil {
		return nil, modeFileStamp{}, err
	}
	fi, err := writeFileAtomic(c.Path, data)
	if err != nil {
		return nil, modeFileStamp{}, err
	}
	if err := syncDir(dir); err != nil {
		c.warn("mode cache file written, but its directory could not be synced", err)
	}
	return m, stampOf(fi), nil
}

// encodeModeFile returns the file's contents for m, dropping the oldest
// entries of m until they fit in modeFileMax.
func encodeModeFile(m map[string]modeEntry) ([]byte, error) {
	for {
		mf := modeFile{Version: modeFileVersion, Modes: make(map[string]modeFileEntry, len(m))}
		for k, e := range m {
			mf.Modes[k] = modeFileEntry{Mode: e.mode.String(), Confirmed: e.confirmed.UTC()}
		}
		data, err := json.MarshalIndent(mf, "", "  ")
		if err != nil {
			return nil, err
		}
		data = append(data, '\n')
		if len(data) <= modeFileMax {
			return data, nil
		}
		dropOldest(m, max(1, len(m)/10))
	}
}

// writeFileAtomic replaces the file at path with data: a temporary file in
// the same directory is written, synced and renamed over it. It returns the
// new file's FileInfo; the caller syncs the directory.
func writeFileAtomic(path string, data []byte) (os.FileInfo, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*") // mode 0600
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	fi, err := tmp.Stat()
	if err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	done = true
	return fi, nil
}

// DefaultModeCachePath returns where a program keeps its FileModeCache:
// $XDG_STATE_HOME/smtpkit/modes.json, else ~/.local/state/smtpkit/modes.json,
// or "" when there is no home directory.
func DefaultModeCachePath() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "smtpkit", "modes.json")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "state", "smtpkit", "modes.json")
}
