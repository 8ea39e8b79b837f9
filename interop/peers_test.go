package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

// defaultPeersEnv is where interop/peers.sh writes the peers' addresses.
const defaultPeersEnv = "/tmp/peers/peers.env"

// Keys of peers.env used by these tests. The file holds more (AUTH ports,
// credentials, proxies, the Maildir) for the tests still to come.
const (
	keyPlain      = "PEERS_SMTP_PLAIN"      // 2525: plaintext, no STARTTLS, no AUTH
	keyBare       = "PEERS_SMTP_BARE"       // 2528: EHLO answered with no extensions
	keyNoChunking = "PEERS_SMTP_NOCHUNK"    // 2529: PIPELINING without CHUNKING
	keySubmission = "PEERS_SMTP_SUBMISSION" // 2587: STARTTLS required, AUTH after TLS
	keySMTPS      = "PEERS_SMTPS"           // 2465: implicit TLS, AUTH
)

// peers is the content of peers.env.
type peers struct {
	file string
	env  map[string]string
}

var (
	loadOnce  sync.Once
	loaded    *peers
	loadErr   error
	liveMu    sync.Mutex
	liveAddrs = map[string]error{} // address -> result of the first connection check
)

// needPeers returns the running peers. When they are absent the test is
// skipped with a hint how to start them, except under CI=true, where a
// missing peer is a broken setup and fails the test.
func needPeers(t *testing.T) *peers {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = loadPeers() })
	if loadErr != nil {
		absent(t, loadErr)
	}
	return loaded
}

func peersEnvFile() string {
	if f := os.Getenv("SMTPKIT_PEERS_ENV"); f != "" {
		return f
	}
	return defaultPeersEnv
}

func loadPeers() (*peers, error) {
	file := peersEnvFile()
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read the peers' env file: %w", err)
	}
	p := &peers{file: file, env: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", file, line)
		}
		p.env[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return p, sc.Err()
}

func absent(t *testing.T, why error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop peers unavailable under CI=true: %v (SMTPKIT_PEERS_ENV=%q); .ci/run starts them with interop/peers.sh start",
			why, peersEnvFile())
	}
	t.Skipf("interop peers not running: %v. Start them (Debian/Ubuntu, as root; installs packages) with:\n"+
		"\tinterop/peers.sh start\n"+
		"then run: go test ./interop/   (set SMTPKIT_PEERS_ENV when peers.env is not at %s)", why, defaultPeersEnv)
}

// get returns a value from peers.env; a missing key means the peers are absent or outdated.
func (p *peers) get(t *testing.T, key string) string {
	t.Helper()
	v, ok := p.env[key]
	if !ok || v == "" {
		absent(t, fmt.Errorf("%s has no %s (re-run interop/peers.sh start)", p.file, key))
	}
	return v
}

// addr returns the address under key after checking, once per process,
// that something accepts connections there.
func (p *peers) addr(t *testing.T, key string) string {
	t.Helper()
	a := p.get(t, key)
	liveMu.Lock()
	err, checked := liveAddrs[a]
	if !checked {
		var c net.Conn
		c, err = net.DialTimeout("tcp", a, 5*time.Second)
		if err == nil {
			c.Close()
		}
		liveAddrs[a] = err
	}
	liveMu.Unlock()
	if err != nil {
		absent(t, fmt.Errorf("%s (%s from %s): %w", key, a, p.file, err))
	}
	return a
}

// tlsConfig trusts the peers' CA and expects the peers' server name.
func (p *peers) tlsConfig(t *testing.T) *tls.Config {
	t.Helper()
	cfg := p.caOnly(t)
	cfg.ServerName = p.get(t, "PEERS_SMTP_TLS_SERVERNAME")
	return cfg
}

// caOnly trusts the peers' CA and leaves ServerName to the library.
func (p *peers) caOnly(t *testing.T) *tls.Config {
	t.Helper()
	file := p.get(t, "PEERS_CA_PEM")
	pem, err := os.ReadFile(file)
	if err != nil {
		absent(t, fmt.Errorf("the peers' CA: %w", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", file)
	}
	return &tls.Config{RootCAs: pool}
}

// options returns Options for mode that trust the peers' CA, with the
// transcript kept for the test's log when it fails.
func (p *peers) options(t *testing.T, mode smtpkit.Security) *smtpkit.Options {
	t.Helper()
	return &smtpkit.Options{
		Security:   mode,
		TLSConfig:  p.tlsConfig(t),
		LocalName:  "client.interop.test",
		Transcript: transcriptFor(t),
	}
}

// aliasN numbers the names fresh hands out.
var aliasN atomic.Int64

// fresh returns a name of its own for the server at key, with a dialer
// that reaches the server under it. A Dialer in Auto or TLS-auto remembers
// the mode it found per address; a new name makes even a shared Dialer
// probe afresh, on the server's real port number (which decides how the
// library probes).
func (p *peers) fresh(t *testing.T, key string) (addr string, dialer smtpkit.ContextDialer) {
	t.Helper()
	real := p.addr(t, key)
	_, port, err := net.SplitHostPort(real)
	if err != nil {
		t.Fatalf("%s=%q: %v", key, real, err)
	}
	name := fmt.Sprintf("probe-%d.interop.test", aliasN.Add(1))
	return net.JoinHostPort(name, port), redirect{to: real}
}

// redirect dials its address whatever address it is asked for, as a proxy would.
type redirect struct{ to string }

func (r redirect) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, r.to)
}

// testContext bounds a test's calls, so a hang fails the test instead of the run.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer collects lines written from several goroutines (the racing
// connections of Auto write to the same transcript).
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// transcriptFor returns a transcript writer whose content is logged when t fails.
func transcriptFor(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("transcript:\n%s", buf.String())
		}
	})
	return buf
}

// warnCounter is a slog.Handler that counts records at Warn level and above.
type warnCounter struct{ n atomic.Int64 }

func (w *warnCounter) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.n.Add(1)
	}
	return nil
}
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

// phaseOf returns the phase of an *smtpkit.Error, failing the test for any other error.
func phaseOf(t *testing.T, err error) smtpkit.Phase {
	t.Helper()
	var e *smtpkit.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *smtpkit.Error", err, err)
	}
	return e.Phase
}
