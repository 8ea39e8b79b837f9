package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/smtptest"
)

const checkPassword = "s3cret-pa55word"

// authServer starts a server that lets alice log in with the given mechanisms.
func authServer(t *testing.T, kind smtptest.Security, mechs ...string) *smtptest.Server {
	t.Helper()
	srv := smtptest.NewUnstartedServer(kind)
	srv.Users = map[string]string{"alice": checkPassword}
	srv.AuthMechanisms = mechs
	srv.Config.AllowInsecureAuth = true
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// caFile writes the test certificate where --ca-file can read it.
func caFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, smtptest.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCheck(t *testing.T) {
	tls := authServer(t, smtptest.StartTLS, "SCRAM-SHA-256", "PLAIN")
	plain := authServer(t, smtptest.Plain, "PLAIN")
	ca := caFile(t)
	tests := []struct {
		name     string
		password string
		args     []string
		code     int
		want     string
	}{
		{"ok", checkPassword, []string{"check", "-u", "alice", "--ca-file", ca, "-v", tls.Addr}, 0,
			"Login OK for alice at " + tls.Addr + ": SCRAM-SHA-256 over TLS 1.3 (starttls)"},
		{"only PLAIN allowed", checkPassword, []string{"check", "-u", "alice", "--auth", "plain", "--ca-file", ca, "-v", tls.Addr}, 0,
			" ~> AUTH PLAIN <redacted>"},
		{"wrong password", "wrong", []string{"check", "-u", "alice", "--ca-file", ca, tls.Addr}, exitAuth,
			"Login FAILED for alice"},
		{"no password over plaintext", checkPassword, []string{"check", "-u", "alice", "-s", "none", plain.Addr}, exitAuth,
			"(try --allow-cleartext-auth)"},
		{"opted in to cleartext", checkPassword, []string{"check", "-u", "alice", "-s", "none", "--allow-cleartext-auth", plain.Addr}, 0,
			"Login OK for alice at " + plain.Addr + ": PLAIN over no TLS"},
		{"no user", checkPassword, []string{"check", tls.Addr}, exitUsage, "--user"},
		{"no password", "", []string{"check", "-u", "alice", tls.Addr}, exitUsage, "no password"},
		{"unreachable", checkPassword, []string{"check", "-u", "alice", "-s", "none", "127.0.0.1:1"}, exitRefused, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SMTPKIT_PASSWORD", tt.password)
			out, code := run(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want %d and output with %q:\n%s", code, tt.code, tt.want, out)
			}
			if strings.Contains(out, checkPassword) {
				t.Errorf("the output shows the password:\n%s", out)
			}
		})
	}
}

func TestCheckPasswordFromStdin(t *testing.T) {
	srv := authServer(t, smtptest.ImplicitTLS, "CRAM-MD5")
	t.Setenv("SMTPKIT_PASSWORD", "")
	cmd := newRootCommand()
	var out strings.Builder
	cmd.SetArgs([]string{"check", "-u", "alice", "--password-stdin", "-s", "implicit-tls", "--ca-file", caFile(t), srv.Addr})
	cmd.SetIn(strings.NewReader(checkPassword + "\n"))
	cmd.SetOut(&out)
	if err := cmd.ExecuteContext(testContext(t)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "CRAM-MD5 over TLS 1.3 (implicit-tls)") {
		t.Errorf("output:\n%s", out.String())
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestURLPasswordWarning(t *testing.T) {
	srv := authServer(t, smtptest.Plain, "PLAIN")
	out, code := run(t, "check", "--url", "smtp://alice:"+checkPassword+"@"+srv.Addr+"?security=none&allow_cleartext_auth=true")
	if code != 0 || !strings.Contains(out, "the password of --url shows in the process list") || !strings.Contains(out, "Login OK for alice") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, checkPassword) {
		t.Errorf("the output shows the password:\n%s", out)
	}
}
