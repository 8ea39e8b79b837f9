package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/smtptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

// testMain builds the binary the tests run (and a link to it named
// sendmail), keeps the in-process tests away from the machine's own
// settings, runs the tests, and then checks for leaked goroutines as
// goleak.VerifyTestMain does.
func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "smtpkit-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildBinaries(filepath.Join(dir, "bin")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("HOME", home)
	os.Unsetenv("XDG_CONFIG_HOME")
	os.Unsetenv("XDG_STATE_HOME")
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SMTPKIT_") {
			os.Unsetenv(name)
		}
	}
	// Never the machine's queue, not even as root (/var/spool/smtpkit).
	os.Setenv("SMTPKIT_SPOOL", filepath.Join(dir, "spool"))
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	return code
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
		out.WriteString("error: " + describe(err)) // as runMain prints it
		return out.String(), exitCode(err)
	}
	return out.String(), 0
}

func TestProbeDemo(t *testing.T) {
	out, code := run(t, "probe", "--demo")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"Security:     starttls (asked for tls-auto)", "TLS:          TLS 1.3", "SHA-256:", "  PIPELINING", "ehlo", "total"} {
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
	for _, want := range []string{"Security:     implicit-tls (asked for implicit-tls)", " ~> EHLO", "<~  220 ", "=== TLS up", " ~> QUIT"} {
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
		{"connection refused", []string{"probe", "-s", "none", "127.0.0.1:1"}, exitRefused},
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

func TestProbeThroughProxy(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	for _, start := range []func(smtptest.ProxyConfig) *smtptest.Proxy{smtptest.NewSOCKS5Proxy, smtptest.NewHTTPProxy} {
		p := start(smtptest.ProxyConfig{Username: "alice", Password: "pr0xy-secret"})
		defer p.Close()
		t.Run(p.Protocol, func(t *testing.T) {
			out, code := run(t, "probe", "-s", "implicit-tls", "--fingerprint", sha256Hex(smtptest.Certificate().Raw),
				"--proxy", p.URL(), "-v", srv.Addr)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, want := range []string{"Proxy:        " + p.Protocol + "://alice:xxxxx@" + p.Addr, "through the proxy", "Security:     implicit-tls"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "pr0xy-secret") {
				t.Errorf("the output shows the proxy's password:\n%s", out)
			}
			if reqs := p.Requests(); len(reqs) != 1 || reqs[0].Target != srv.Addr || !reqs[0].Granted {
				t.Errorf("the proxy got %+v", reqs)
			}
		})
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestProbeTLSFlags(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, smtptest.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	pair, cert, err := smtptest.NewCertificate(smtptest.CertOptions{DNSNames: []string{"client.test"}})
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(t.TempDir(), "c.pem"), filepath.Join(t.TempDir(), "k.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"versions", []string{"--ca-file", ca, "--tls-versions", "1.2"}, 0, []string{"TLS:          TLS 1.2,"}},
		{"ssl3 dropped", []string{"--ca-file", ca, "--tls-versions", "ssl3,TLS1.2"}, 0,
			[]string{"smtpkit: warning: TLS versions this runtime (Go's crypto/tls) cannot speak were dropped", `dropped="SSL 3.0"`,
				"TLS:          TLS 1.2,"}},
		{"ssl3 strict", []string{"--ca-file", ca, "--tls-versions", "ssl3,1.2", "--tls-strict"}, exitUsage,
			[]string{`--tls-versions "ssl3,1.2": SSL 3.0 is not supported by this runtime (Go's crypto/tls)`, "(try --tls-strict=false)"}},
		{"pinned", []string{"--fingerprint", sha256Hex(cert.Raw), "--fingerprint", sha256Hex(smtptest.Certificate().Raw)}, 0,
			[]string{"TLS:          TLS 1.3"}},
		{"malformed pin", []string{"--fingerprint", "00"}, exitUsage, []string{`--fingerprint: "00" is not a SHA-256 fingerprint`}},
		{"pin mismatch", []string{"--ca-file", ca, "--fingerprint", sha256Hex(cert.Raw)}, exitTLS, []string{"matches none of the pinned fingerprints"}},
		{"insecure", []string{"--insecure-skip-verify"}, 0, []string{"WARNING:      the certificate was NOT verified"}},
		{"client certificate", []string{"--ca-file", ca, "--cert", certFile, "--key", keyFile}, 0, []string{"TLS:          TLS 1.3"}},
		{"unknown version", []string{"--tls-versions", "1.2,1.4"}, exitUsage, []string{`--tls-versions: "1.4" is not a TLS version`}},
		{"cert without key", []string{"--cert", certFile}, exitUsage, []string{"--cert and --key go together"}},
		{"bad bind", []string{"--bind", "mail.example.com"}, exitUsage, []string{`--bind: "mail.example.com" is not an IP address`}},
		{"bad proxy", []string{"--proxy", "ftp://alice:pr0xy-secret@proxy.test"}, exitUsage, []string{"--proxy: proxy URL", "unknown scheme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := run(t, append(append([]string{"probe", "-s", "starttls"}, tt.args...), srv.Addr)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d:\n%s", code, tt.code, out)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "pr0xy-secret") {
				t.Errorf("the output shows the proxy's password:\n%s", out)
			}
		})
	}
}

func TestProbeBind(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 is not a local address here: %v", err)
	}
	ln.Close()
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	out, code := run(t, "probe", "-s", "none", "--bind", "127.0.0.2", "-v", srv.Addr)
	if code != 0 || !strings.Contains(out, " -> EHLO [127.0.0.2]") {
		t.Errorf("exit %d, want 0 and an EHLO from 127.0.0.2:\n%s", code, out)
	}
	out, code = run(t, "probe", "-s", "none", "--bind", "192.0.2.7", srv.Addr)
	if code != exitConnect || !strings.Contains(out, "cannot bind to 192.0.2.7: the address is not on this machine") {
		t.Errorf("exit %d, want %d and a clear error:\n%s", code, exitConnect, out)
	}
}
