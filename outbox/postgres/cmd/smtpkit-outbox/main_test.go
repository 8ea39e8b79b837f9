package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The PostgreSQL server of the tests, found as the module's own tests find
// it: SMTPKIT_POSTGRES_URL, or else PEERS_POSTGRES_URL of the env file that
// interop/peers.sh writes.
const (
	testURLEnv      = "SMTPKIT_POSTGRES_URL"
	peersEnvFileEnv = "SMTPKIT_PEERS_ENV"
	defaultPeersEnv = "/tmp/peers/peers.env"
	peersURLKey     = "PEERS_POSTGRES_URL"
)

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
)

// baseURL returns the URL of the test server, skipping the test without
// one, except under CI=true, where that fails it.
func baseURL(t *testing.T) string {
	t.Helper()
	serverOnce.Do(func() { serverURL, serverErr = findServer() })
	if serverErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unavailable under CI=true: %v; .ci/run starts it with interop/peers.sh start", serverErr)
		}
		t.Skipf("PostgreSQL not running: %v. Start it with interop/peers.sh start (or set %s)", serverErr, testURLEnv)
	}
	return serverURL
}

func findServer() (string, error) {
	url := os.Getenv(testURLEnv)
	if url == "" {
		file := os.Getenv(peersEnvFileEnv)
		if file == "" {
			file = defaultPeersEnv
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("no %s, and the peers' env file: %w", testURLEnv, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), peersURLKey+"="); ok {
				url = v
			}
		}
		if url == "" {
			return "", fmt.Errorf("%s has no %s (re-run interop/peers.sh start)", file, peersURLKey)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("connecting to the test server: %w", err)
	}
	conn.Close(ctx)
	return url, nil
}

// freshSchema makes an empty schema for the test, dropped when it ends,
// and returns the server's URL with it as search_path.
func freshSchema(t *testing.T) string {
	t.Helper()
	base := baseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r [6]byte
	rand.Read(r[:])
	schema := "outbox_cli_" + hex.EncodeToString(r[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// syncBuffer is a bytes.Buffer that a command's goroutines may write while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command line args with the database url in
// $SMTPKIT_OUTBOX_URL ("" for none), stdin as its input.
func cli(t *testing.T, ctx context.Context, url, stdin string, args ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	code := runMain(ctx, args, &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) string {
			if k == urlEnv {
				return url
			}
			return ""
		}})
	return result{code, out.String(), errOut.String()}
}

// must runs args and fails the test unless the command exits with code.
func must(t *testing.T, code int, url, stdin string, args ...string) result {
	t.Helper()
	r := cli(t, t.Context(), url, stdin, args...)
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if code != 0 && !strings.HasPrefix(r.stderr, name+" "+args[0]+": ") && !strings.HasPrefix(r.stderr, name+": ") &&
		!strings.Contains(strings.Join(args, " "), "--json") {
		t.Errorf("%s: stderr %q does not begin with the command's name", strings.Join(args, " "), r.stderr)
	}
	return r
}

// decode reads the JSON object a command printed.
func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("the JSON printed: %v\n%s", err, r.stdout)
	}
	return v
}

// closedAddr returns an address of loopback where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// writeFile writes a file in the test's directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var _ io.Writer = (*syncBuffer)(nil)
