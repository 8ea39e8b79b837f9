package smtpkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// modeLog collects what a FileModeCache logs; safe for concurrent use.
type modeLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *modeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *modeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *modeLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// modeClock is a clock a test moves by hand.
type modeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newModeClock() *modeClock {
	return &modeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)}
}

func (c *modeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *modeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// readModeFileJSON returns the mode cache file at path as its JSON form,
// failing the test when it is not a valid file.
func readModeFileJSON(t *testing.T, path string) modeFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var mf modeFile
	if err := json.Unmarshal(data, &mf); err != nil {
		t.Fatalf("the mode cache file is not valid JSON: %v\n%s", err, data)
	}
	if mf.Version != 1 {
		t.Fatalf("version %d in the file, want 1", mf.Version)
	}
	return mf
}

// wantModes checks that the file at path holds exactly want, by mode name.
func wantModes(t *testing.T, path string, want map[string]string) {
	t.Helper()
	mf := readModeFileJSON(t, path)
	got := map[string]string{}
	for k, e := range mf.Modes {
		got[k] = e.Mode
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the file holds %v, want %v", got, want)
	}
}

// wantGet checks what c.Get(key) returns.
func wantGet(t *testing.T, c ModeCache, key string, want Security, wantOK bool) {
	t.Helper()
	got, ok := c.Get(key)
	if ok != wantOK || (ok && got != want) {
		t.Fatalf("Get(%q) = %v, %v; want %v, %v", key, got, ok, want, wantOK)
	}
}

func TestMemoryModeCache(t *testing.T) {
	c := NewMemoryModeCache()
	wantGet(t, c, "a", 0, false)
	c.Put("a", SecurityImplicitTLS)
	c.Put("b", SecurityStartTLS)
	c.Put("c", SecurityNone)
	wantGet(t, c, "a", SecurityImplicitTLS, true)
	wantGet(t, c, "b", SecurityStartTLS, true)
	wantGet(t, c, "c", SecurityNone, true)
	c.Put("a", SecurityStartTLS)
	wantGet(t, c, "a", SecurityStartTLS, true)
	c.Forget("a")
	wantGet(t, c, "a", 0, false)
	wantGet(t, c, "b", SecurityStartTLS, true)
	for _, s := range []Security{SecurityAuto, SecurityTLSAuto, SecurityStartTLSIfOffered, Security(42)} {
		c.Put("d", s)
		wantGet(t, c, "d", 0, false)
	}
}

func TestMemoryModeCacheBounded(t *testing.T) {
	c := NewMemoryModeCache()
	for i := range memoryModeCacheMax {
		c.Put(strconv.Itoa(i), SecurityStartTLS)
	}
	c.Put("0", SecurityImplicitTLS) // put again: now the newest
	c.Put("new", SecurityStartTLS)
	wantGet(t, c, "0", SecurityImplicitTLS, true)
	wantGet(t, c, "1", 0, false) // the oldest made room
	wantGet(t, c, "2", SecurityStartTLS, true)
	wantGet(t, c, "new", SecurityStartTLS, true)
}

func TestMemoryModeCacheConcurrent(t *testing.T) {
	c := NewMemoryModeCache()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				k := fmt.Sprintf("%d/%d", g, i)
				c.Put(k, SecurityImplicitTLS)
				c.Get(k)
				if i%2 == 0 {
					c.Forget(k)
				}
			}
		})
	}
	wg.Wait()
	for g := range 8 {
		wantGet(t, c, fmt.Sprintf("%d/1", g), SecurityImplicitTLS, true)
		wantGet(t, c, fmt.Sprintf("%d/0", g), 0, false)
	}
}

func TestFileModeCacheRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modes.json")
	c := NewFileModeCache(path)
	wantGet(t, c, "mx.example:25", 0, false)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Get created the file: %v", err)
	}
	c.Put("mx.example:25", SecurityStartTLS)
	c.Put("smtp.example:465", SecurityImplicitTLS)
	c.Put("plain.example:2525", SecurityNone)
	wantGet(t, c, "mx.example:25", SecurityStartTLS, true)
	wantGet(t, c, "smtp.example:465", SecurityImplicitTLS, true)
	wantGet(t, c, "plain.example:2525", SecurityNone, true)
	wantModes(t, path, map[string]string{
		"mx.example:25": "starttls", "smtp.example:465": "implicit-tls", "plain.example:2525": "none",
	})

	c.Put("mx.example:25", SecurityImplicitTLS) // a new mode is written at once
	c.Forget("plain.example:2525")
	c.Forget("never.example:25")
	wantGet(t, c, "mx.example:25", SecurityImplicitTLS, true)
	wantGet(t, c, "plain.example:2525", 0, false)
	wantModes(t, path, map[string]string{"mx.example:25": "implicit-tls", "smtp.example:465": "implicit-tls"})

	// The zero value with Path set works the same.
	z := &FileModeCache{Path: path}
	wantGet(t, z, "smtp.example:465", SecurityImplicitTLS, true)
}

func TestFileModeCacheFormat(t *testing.T) {
	clock := newModeClock()
	path := filepath.Join(t.TempDir(), "modes.json")
	c := &FileModeCache{Path: path, now: clock.now}
	c.Put(`[2001:db8::1]:587 via "socks5h://proxy:1080"`, SecurityStartTLS)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "modes": {
    "[2001:db8::1]:587 via \"socks5h://proxy:1080\"": {
      "mode": "starttls",
      "confirmed": "2030-01-02T03:04:05.000000006Z"
    }
  }
}
`
	if string(data) != want {
		t.Fatalf("the file holds\n%s\nwant\n%s", data, want)
	}
}

func TestFileModeCachePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modes.json")
	first := NewFileModeCache(path)
	first.Put("a:25", SecurityStartTLS)
	first.Put("b:465", SecurityImplicitTLS)

	second := NewFileModeCache(path) // another run of the program
	wantGet(t, second, "a:25", SecurityStartTLS, true)
	wantGet(t, second, "b:465", SecurityImplicitTLS, true)
	second.Forget("a:25")
	second.Put("c:587", SecurityNone)

	third := NewFileModeCache(path)
	wantGet(t, third, "a:25", 0, false)
	wantGet(t, third, "b:465", SecurityImplicitTLS, true)
	wantGet(t, third, "c:587", SecurityNone, true)
}

func TestFileModeCacheSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modes.json")
	long := NewFileModeCache(path) // a long-running process
	other := NewFileModeCache(path)
	wantGet(t, long, "a:25", 0, false)

	other.Put("a:25", SecurityImplicitTLS)
	wantGet(t, long, "a:25", SecurityImplicitTLS, true)
	other.Put("a:25", SecurityStartTLS)
	wantGet(t, long, "a:25", SecurityStartTLS, true)
	other.Forget("a:25")
	wantGet(t, long, "a:25", 0, false)

	// What the long-running one writes keeps what the other wrote meanwhile.
	other.Put("b:25", SecurityStartTLS)
	long.Put("c:25", SecurityNone)
	wantModes(t, path, map[string]string{"b:25": "starttls", "c:25": "none"})

	// A file removed by hand is an empty cache.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	wantGet(t, long, "b:25", 0, false)
	if got := long.Keys(); len(got) != 0 {
		t.Fatalf("Keys after the file was removed = %v", got)
	}
}

// TestFileModeCacheSameTick has another writer change the file within one
// tick of the filesystem's clock, leaving the same size and time: a reader
// must not trust a time that recent.
func TestFileModeCacheSameTick(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modes.json")
	c := NewFileModeCache(path)
	c.Put("a:25", SecurityStartTLS)
	wantGet(t, c, "a:25", SecurityStartTLS, true)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0) // in place: the same file
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(bytes.Replace(data, []byte(`"a:25"`), []byte(`"b:25"`), 1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	wantGet(t, c, "b:25", SecurityStartTLS, true)
	wantGet(t, c, "a:25", 0, false)
}

func TestFileModeCacheExpiry(t *testing.T) {
	clock := newModeClock()
	path := filepath.Join(t.TempDir(), "modes.json")
	c := &FileModeCache{Path: path, MaxAge: 100 * time.Hour, now: clock.now}
	c.Put("a:25", SecurityStartTLS)
	clock.advance(100*time.Hour - time.Second)
	wantGet(t, c, "a:25", SecurityStartTLS, true)
	clock.advance(time.Second)
	wantGet(t, c, "a:25", 0, false)
	if got := c.Keys(); len(got) != 0 {
		t.Fatalf("Keys lists an expired entry: %v", got)
	}
	// Another value on the same file with the same clock agrees.
	d := &FileModeCache{Path: path, MaxAge: 100 * time.Hour, now: clock.now}
	wantGet(t, d, "a:25", 0, false)

	// An expired entry leaves the file at the next write.
	c.Put("b:25", SecurityNone)
	wantModes(t, path, map[string]string{"b:25": "none"})

	// The default is 30 days.
	e := &FileModeCache{Path: path, now: clock.now}
	clock.advance(30*24*time.Hour - time.Minute)
	wantGet(t, e, "b:25", SecurityNone, true)
	clock.advance(time.Minute)
	wantGet(t, e, "b:25", 0, false)

	// A negative MaxAge never expires.
	f := &FileModeCache{Path: path, MaxAge: -1, now: clock.now}
	f.Put("c:25", SecurityImplicitTLS)
	clock.advance(10 * 365 * 24 * time.Hour)
	wantGet(t, f, "c:25", SecurityImplicitTLS, true)
}

func TestFileModeCacheConfirm(t *testing.T) {
	clock := newModeClock()
	path := filepath.Join(t.TempDir(), "modes.json")
	c := &FileModeCache{Path: path, MaxAge: 100 * time.Hour, now: clock.now}
	stat := func() os.FileInfo {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	c.Put("a:25", SecurityStartTLS)
	before := stat()

	// Confirmed again within a hundredth of MaxAge: not worth a write.
	clock.advance(59 * time.Minute)
	c.Put("a:25", SecurityStartTLS)
	if !os.SameFile(before, stat()) {
		t.Fatal("a confirmation within MaxAge/100 rewrote the file")
	}

	// Later, the confirmation is written and restarts MaxAge.
	clock.advance(49 * time.Hour)
	c.Put("a:25", SecurityStartTLS)
	if os.SameFile(before, stat()) {
		t.Fatal("a confirmation after MaxAge/100 did not rewrite the file")
	}
	clock.advance(99 * time.Hour) // 149h after the first Put, 99h after the last
	other := &FileModeCache{Path: path, MaxAge: 100 * time.Hour, now: clock.now}
	wantGet(t, other, "a:25", SecurityStartTLS, true)
	clock.advance(time.Hour)
	wantGet(t, other, "a:25", 0, false)

	// A different mode is always written.
	c.Put("b:25", SecurityStartTLS)
	before = stat()
	c.Put("b:25", SecurityImplicitTLS)
	if os.SameFile(before, stat()) {
		t.Fatal("a changed mode was not written")
	}
	wantModes(t, path, map[string]string{"b:25": "implicit-tls"})
}

func TestFileModeCacheKeys(t *testing.T) {
	clock := newModeClock()
	path := filepath.Join(t.TempDir(), "modes.json")
	c := &FileModeCache{Path: path, now: clock.now}
	t0 := clock.now()
	c.Put("z:25", SecurityNone)
	clock.advance(time.Hour)
	c.Put("a:465", SecurityImplicitTLS)
	got := NewFileModeCache(path).Keys()
	want := []ModeEntry{
		{Key: "a:465", Mode: SecurityImplicitTLS, Confirmed: t0.Add(time.Hour)},
		{Key: "z:25", Mode: SecurityNone, Confirmed: t0},
	}
	if len(got) != len(want) {
		t.Fatalf("Keys = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Key != want[i].Key || got[i].Mode != want[i].Mode || !got[i].Confirmed.Equal(want[i].Confirmed) {
			t.Fatalf("Keys = %v, want %v", got, want)
		}
	}
}

func TestFileModeCacheBounded(t *testing.T) {
	clock := newModeClock()
	path := filepath.Join(t.TempDir(), "modes.json")
	c := &FileModeCache{Path: path, MaxEntries: 3, now: clock.now}
	for _, k := range []string{"a", "b", "c", "d"} {
		c.Put(k, SecurityStartTLS)
		clock.advance(time.Second)
	}
	wantModes(t, path, map[string]string{"b": "starttls", "c": "starttls", "d": "starttls"})
	wantGet(t, c, "a", 0, false)

	// Confirming b makes c the oldest.
	clock.advance(8 * time.Hour) // past a hundredth of the default MaxAge
	c.Put("b", SecurityStartTLS)
	c.Put("e", SecurityImplicitTLS)
	wantModes(t, path, map[string]string{"b": "starttls", "d": "starttls", "e": "implicit-tls"})

	// A file written with a larger bound is cut down at the next write.
	big := &FileModeCache{Path: path, MaxEntries: 10, now: clock.now}
	for _, k := range []string{"f", "g", "h"} {
		clock.advance(time.Second)
		big.Put(k, SecurityNone)
	}
	clock.advance(time.Second)
	c.Put("i", SecurityNone)
	wantModes(t, path, map[string]string{"g": "none", "h": "none", "i": "none"})
}

func TestFileModeCacheSizeBound(t *testing.T) {
	clock := newModeClock()
	t0 := clock.now()
	path := filepath.Join(t.TempDir(), "modes.json")
	key := func(i int) string { return fmt.Sprintf("%04d:%s", i, strings.Repeat("x", 1000)) }
	seed := func(n int) map[string]modeEntry {
		m := map[string]modeEntry{}
		for i := range n {
			m[key(i)] = modeEntry{mode: SecurityStartTLS, confirmed: t0.Add(time.Duration(i) * time.Second)}
		}
		return m
	}
	// Fill the file to just under the bound, as a long history of long keys would.
	size := func(n int) int {
		data, err := encodeModeFile(seed(n))
		if err != nil {
			t.Fatal(err)
		}
		return len(data)
	}
	base, per := size(0), (size(10)-size(0))/10
	n := (modeFileMax-base)/per - 1
	data, err := encodeModeFile(seed(n))
	if err != nil || len(data) > modeFileMax {
		t.Fatalf("seed of %d entries: %d bytes, %v", n, len(data), err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Duration(n) * time.Second)
	c := &FileModeCache{Path: path, MaxEntries: 5000, now: clock.now}
	wantGet(t, c, key(0), SecurityStartTLS, true)
	for i := n; i < n+3; i++ {
		c.Put(key(i), SecurityImplicitTLS)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > modeFileMax {
		t.Fatalf("the file grew to %d bytes, more than %d", fi.Size(), modeFileMax)
	}
	other := NewFileModeCache(path)
	wantGet(t, other, key(0), 0, false) // the oldest made room
	wantGet(t, other, key(n-1), SecurityStartTLS, true)
	wantGet(t, other, key(n+2), SecurityImplicitTLS, true)
}

func TestFileModeCacheDamaged(t *testing.T) {
	valid := `{"version":1,"modes":{"old:25":{"mode":"starttls","confirmed":"2030-01-01T00:00:00Z"}}`
	for _, tc := range []struct {
		name, content string
	}{
		{"not JSON", "{this is not json"},
		{"binary", "\x00\x01\x02\xff"},
		{"another version", `{"version":2,"modes":{"old:25":{"mode":"starttls","confirmed":"2030-01-01T00:00:00Z"}}}`},
		{"too large", valid + `,"padding":"` + strings.Repeat("p", modeFileMax) + `"}`},
		{"truncated", valid[:40]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "modes.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var log modeLog
			clock := newModeClock()
			c := &FileModeCache{Path: path, Logger: log.logger(), now: clock.now}
			wantGet(t, c, "old:25", 0, false)
			if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), path) {
				t.Fatalf("no warning naming the file; logged:\n%s", log.String())
			}
			wantGet(t, c, "old:25", 0, false) // again, from what was read
			c.Put("new:25", SecurityImplicitTLS)
			wantModes(t, path, map[string]string{"new:25": "implicit-tls"})
			wantGet(t, NewFileModeCache(path), "new:25", SecurityImplicitTLS, true)
		})
	}

	t.Run("empty", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "modes.json")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var log modeLog
		c := &FileModeCache{Path: path, Logger: log.logger()}
		wantGet(t, c, "a:25", 0, false)
		if log.String() != "" {
			t.Fatalf("an empty file was warned about:\n%s", log.String())
		}
	})

	t.Run("one bad entry", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "modes.json")
		content := `{"version":1,"modes":{
			"auto:25":{"mode":"auto","confirmed":"2030-01-01T00:00:00Z"},
			"bogus:25":{"mode":"bogus","confirmed":"2030-01-01T00:00:00Z"},
			"undated:25":{"mode":"starttls"},
			"good:25":{"mode":"starttls","confirmed":"2030-01-01T00:00:00Z"}}}`
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		clock := newModeClock()
		c := &FileModeCache{Path: path, now: clock.now}
		wantGet(t, c, "good:25", SecurityStartTLS, true)
		wantGet(t, c, "auto:25", 0, false)
		wantGet(t, c, "bogus:25", 0, false)
		wantGet(t, c, "undated:25", 0, false)
	})
}

func TestFileModeCachePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "smtpkit")
	path := filepath.Join(dir, "modes.json")
	c := NewFileModeCache(path)
	c.Put("a:25", SecurityStartTLS)
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700, filepath.Dir(dir): 0o700, path + ".lock": 0o600} {
		if !modeFileLocking && strings.HasSuffix(p, ".lock") {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}

	// A file made readable by others is replaced by a private one.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	c.Put("b:25", SecurityNone)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after a Put the file is %v, %v; want mode 0600", fi.Mode().Perm(), err)
	}

	// No temporary file is left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "modes.json" && e.Name() != "modes.json.lock" {
			t.Errorf("left in the directory: %s", e.Name())
		}
	}
}

func TestFileModeCacheIgnores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modes.json")
	var log modeLog
	c := &FileModeCache{Path: path, Logger: log.logger()}
	for _, s := range []Security{SecurityAuto, SecurityTLSAuto, SecurityStartTLSIfOffered, Security(-1), Security(42)} {
		c.Put("a:25", s)
	}
	c.Put(strings.Repeat("k", modeKeyMax+1), SecurityStartTLS)
	c.Put("bad\xffutf8", SecurityStartTLS)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a Put that stores nothing wrote the file: %v", err)
	}
	wantGet(t, c, "a:25", 0, false)
	wantGet(t, c, strings.Repeat("k", modeKeyMax+1), 0, false)
	if !strings.Contains(log.String(), "key not stored") {
		t.Fatalf("an unstorable key was not logged:\n%s", log.String())
	}
	c.Put(strings.Repeat("k", modeKeyMax), SecurityStartTLS)
	wantGet(t, NewFileModeCache(path), strings.Repeat("k", modeKeyMax), SecurityStartTLS, true)
}

func TestFileModeCacheNoPath(t *testing.T) {
	clock := newModeClock()
	c := &FileModeCache{MaxEntries: 2, MaxAge: time.Hour, now: clock.now}
	c.Put("a", SecurityStartTLS)
	clock.advance(time.Second)
	c.Put("b", SecurityImplicitTLS)
	clock.advance(time.Second)
	c.Put("c", SecurityNone)
	wantGet(t, c, "a", 0, false)
	wantGet(t, c, "b", SecurityImplicitTLS, true)
	wantGet(t, c, "c", SecurityNone, true)
	c.Forget("b")
	wantGet(t, c, "b", 0, false)
	clock.advance(time.Hour)
	wantGet(t, c, "c", 0, false)
}

// TestFileModeCacheGoroutines has several FileModeCache values on one file,
// as several processes would, write at once; none may lose another's entries.
func TestFileModeCacheGoroutines(t *testing.T) {
	if !modeFileLocking {
		t.Skip("writers do not lock the file on this system")
	}
	path := filepath.Join(t.TempDir(), "modes.json")
	const writers, each = 6, 15
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			c := NewFileModeCache(path)
			<-start
			for i := range each {
				c.Put(fmt.Sprintf("w%d-%d:25", w, i), SecurityStartTLS)
				c.Get(fmt.Sprintf("w%d-%d:25", (w+1)%writers, i))
			}
		})
	}
	close(start)
	wg.Wait()
	mf := readModeFileJSON(t, path)
	for w := range writers {
		for i := range each {
			if _, ok := mf.Modes[fmt.Sprintf("w%d-%d:25", w, i)]; !ok {
				t.Errorf("entry w%d-%d:25 was lost", w, i)
			}
		}
	}
	if len(mf.Modes) != writers*each {
		t.Errorf("the file holds %d entries, want %d", len(mf.Modes), writers*each)
	}
}

// The environment of a child process of TestFileModeCacheProcesses.
const (
	modeChildEnv     = "SMTPKIT_TEST_MODECACHE_CHILD" // the child's number
	modeChildPathEnv = "SMTPKIT_TEST_MODECACHE_PATH"
	modeChildEach    = 20 // entries each child puts
)

// TestFileModeCacheProcesses runs the test binary again as several processes
// that write one file at once; every entry must survive.
func TestFileModeCacheProcesses(t *testing.T) {
	if id := os.Getenv(modeChildEnv); id != "" {
		modeCacheChild(t, id, os.Getenv(modeChildPathEnv))
		return
	}
	if !modeFileLocking {
		t.Skip("writers do not lock the file on this system")
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "modes.json")
	const children = 4
	type child struct {
		cmd   *exec.Cmd
		out   bytes.Buffer
		stdin io.Closer
	}
	var cs []*child
	for i := range children {
		c := &child{cmd: exec.Command(os.Args[0], "-test.run=^TestFileModeCacheProcesses$", "-test.count=1")}
		c.cmd.Env = append(os.Environ(), modeChildEnv+"="+strconv.Itoa(i), modeChildPathEnv+"="+path)
		c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
		stdin, err := c.cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.stdin = stdin
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	// All are running: let them write at once.
	for _, c := range cs {
		c.stdin.Close()
	}
	for i, c := range cs {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, c.out.String())
		}
	}
	mf := readModeFileJSON(t, path)
	for i := range children {
		for j := range modeChildEach {
			if _, ok := mf.Modes[fmt.Sprintf("p%d-%d:25", i, j)]; !ok {
				t.Errorf("entry p%d-%d:25 was lost", i, j)
			}
		}
	}
	if len(mf.Modes) != children*modeChildEach {
		t.Errorf("the file holds %d entries, want %d", len(mf.Modes), children*modeChildEach)
	}
}

// modeCacheChild is the work of one child of TestFileModeCacheProcesses.
func modeCacheChild(t *testing.T, id, path string) {
	var b [1]byte
	os.Stdin.Read(b[:]) // wait until every child is running
	c := NewFileModeCache(path)
	for j := range modeChildEach {
		c.Put(fmt.Sprintf("p%s-%d:25", id, j), SecurityImplicitTLS)
	}
	for j := range modeChildEach {
		wantGet(t, c, fmt.Sprintf("p%s-%d:25", id, j), SecurityImplicitTLS, true)
	}
}

func TestFileModeCacheUnwritable(t *testing.T) {
	t.Run("read-only directory", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "modes.json")
		NewFileModeCache(path).Put("old:25", SecurityStartTLS)
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		if f, err := os.CreateTemp(dir, "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			t.Skip("this user can write to a read-only directory")
		}
		var log modeLog
		c := &FileModeCache{Path: path, Logger: log.logger()}
		wantGet(t, c, "old:25", SecurityStartTLS, true)
		c.Put("new:465", SecurityImplicitTLS)
		if !strings.Contains(log.String(), "cannot write") {
			t.Fatalf("the failed write was not logged:\n%s", log.String())
		}
		wantGet(t, c, "old:25", SecurityStartTLS, true)
		wantGet(t, c, "new:465", SecurityImplicitTLS, true) // kept in memory
		wantModes(t, path, map[string]string{"old:25": "starttls"})
	})

	t.Run("directory cannot be made", func(t *testing.T) {
		notDir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(notDir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var log modeLog
		c := &FileModeCache{Path: filepath.Join(notDir, "modes.json"), Logger: log.logger()}
		wantGet(t, c, "a:25", 0, false)
		c.Put("a:25", SecurityStartTLS)
		if !strings.Contains(log.String(), "cannot write") {
			t.Fatalf("the failed write was not logged:\n%s", log.String())
		}
		wantGet(t, c, "a:25", SecurityStartTLS, true)
		c.Forget("a:25")
		wantGet(t, c, "a:25", 0, false)
	})

	t.Run("lock cannot be taken", func(t *testing.T) {
		if !modeFileLocking {
			t.Skip("writers do not lock the file on this system")
		}
		clock := newModeClock()
		path := filepath.Join(t.TempDir(), "modes.json")
		(&FileModeCache{Path: path, now: clock.now}).Put("old:25", SecurityStartTLS)
		// A directory where the lock file belongs cannot be opened for writing, even by root.
		if err := os.Remove(path + ".lock"); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(path+".lock", 0o700); err != nil {
			t.Fatal(err)
		}
		var log modeLog
		c := &FileModeCache{Path: path, Logger: log.logger(), now: clock.now}
		clock.advance(time.Second)
		c.Put("new:465", SecurityImplicitTLS)
		c.Forget("old:25")
		if !strings.Contains(log.String(), "cannot write") {
			t.Fatalf("the failed write was not logged:\n%s", log.String())
		}
		wantGet(t, c, "new:465", SecurityImplicitTLS, true)
		wantGet(t, c, "old:25", 0, false)
		wantModes(t, path, map[string]string{"old:25": "starttls"})

		// Another process confirms old:25 after this one forgot it: the
		// newer news wins when this one's changes are written at last.
		if err := os.Remove(path + ".lock"); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Second)
		(&FileModeCache{Path: path, now: clock.now}).Put("old:25", SecurityNone)
		clock.advance(time.Second)
		c.Put("third:587", SecurityNone)
		wantModes(t, path, map[string]string{"old:25": "none", "new:465": "implicit-tls", "third:587": "none"})
	})
}

func TestDefaultModeCachePath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if got, want := DefaultModeCachePath(), filepath.Join("/var/state", "smtpkit", "modes.json"); got != want {
		t.Errorf("with XDG_STATE_HOME: %q, want %q", got, want)
	}
	home, err := os.UserHomeDir()
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	if err != nil {
		t.Skip("no home directory here")
	}
	if got, want := DefaultModeCachePath(), filepath.Join(home, ".local", "state", "smtpkit", "modes.json"); got != want {
		t.Errorf("with a relative XDG_STATE_HOME: %q, want %q", got, want)
	}
	t.Setenv("XDG_STATE_HOME", "")
	if got, want := DefaultModeCachePath(), filepath.Join(home, ".local", "state", "smtpkit", "modes.json"); got != want {
		t.Errorf("without XDG_STATE_HOME: %q, want %q", got, want)
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "plan9" {
		t.Setenv("HOME", "")
		if got := DefaultModeCachePath(); got != "" {
			t.Errorf("without a home: %q, want \"\"", got)
		}
	}
}
