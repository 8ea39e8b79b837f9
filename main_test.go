package smtpkit_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"
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

// lineWriter collects transcript lines safely.
type lineWriter struct{ b strings.Builder }

func (w *lineWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

func slogTo(w *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
