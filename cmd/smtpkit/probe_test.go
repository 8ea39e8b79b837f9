package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/smtptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// run runs the command line args and returns its output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		out.WriteString("error: " + err.Error())
		return out.String(), exitCode(err)
	}
	return out.String(), 0
}

func TestProbeDemo(t *testing.T) {
	out, code := run(t, "probe", "--demo")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"Security:     starttls (asked for auto)", "TLS:          TLS 1.3", "SHA-256:", "  PIPELINING", "ehlo", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestProbeImplicitTLSWithCAFile(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, smtptest.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "probe", "-s", "implicit-tls", "--ca-file", ca, "-v", srv.Addr)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"Security:     implicit-tls (asked for implicit-tls)", "C: EHLO", "S: 220 ", "* TLS up", "C: QUIT"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestProbeExitCodes(t *testing.T) {
	silent := smtptest.NewRawServer(func(c *smtptest.RawConn) { c.WaitClose() })
	defer silent.Close()
	plain := smtptest.NewServer(smtptest.Plain)
	defer plain.Close()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no address", []string{"probe"}, exitUsage},
		{"bad mode", []string{"probe", "-s", "sometimes", plain.Addr}, exitUsage},
		{"bad flag", []string{"probe", "--no-such-flag", plain.Addr}, exitUsage},
		{"silent server", []string{"probe", "-s", "none", "--greeting-timeout", "100ms", silent.Addr}, exitGreeting},
		{"TLS required, none offered", []string{"probe", "-s", "starttls", plain.Addr}, exitTLS},
		{"connection refused", []string{"probe", "-s", "none", "127.0.0.1:1"}, exitConnect},
		{"not TLS", []string{"probe", "-s", "implicit-tls", plain.Addr}, exitTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := run(t, tt.args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d:\n%s", code, tt.want, out)
			}
		})
	}
}
