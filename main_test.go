package smtpkit_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/smtpkit/smtpkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// portDialer dials real instead of the port named, so a test can reach an
// in-process server as if it listened on a well-known port such as 465.
type portDialer struct {
	real string // host:port actually dialled
}

func (d portDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.real)
}

// testContext returns a context that ends the test's calls if they hang.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20e9)
	t.Cleanup(cancel)
	return ctx
}

// lineWriter collects transcript lines; an attempt Auto abandoned may still
// write after its Dial returned, so it is safe for concurrent use.
type lineWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// String returns what was written so far.
func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func slogTo(w *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

// checkOptionError checks that a Dial refused an invalid setting: no
// Client, an *OptionError naming field (a prefix, such as "TLS.Versions"),
// errors.Is ErrInvalidOptions, and text holding want.
func checkOptionError(t *testing.T, c *smtpkit.Client, err error, field, want string) {
	t.Helper()
	if c != nil {
		c.Close()
		t.Fatalf("Dial succeeded; want an *OptionError for %s", field)
	}
	var oe *smtpkit.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, smtpkit.ErrInvalidOptions) {
		t.Fatalf("err = %v (%T), want an *OptionError matching ErrInvalidOptions", err, err)
	}
	if !strings.HasPrefix(oe.Field, field) {
		t.Errorf("Field = %q, want %q", oe.Field, field)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to hold %q", err, want)
	}
}
