package main

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/smtpkit/smtpkit/smtptest"
)

// TestModesRememberedAcrossRuns: a mode Auto found is kept in the modes
// file, so the next run does not probe again; modes list shows it and
// modes forget drops it.
func TestModesRememberedAcrossRuns(t *testing.T) {
	t.Setenv("SMTPKIT_MODES_FILE", filepath.Join(t.TempDir(), "modes.json"))
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	ca := caFile(t)
	out, code := run(t, "probe", "-s", "tls-auto", "--ca-file", ca, srv.Addr)
	if code != 0 || !strings.Contains(out, "#2") {
		t.Fatalf("first probe: exit %d, want 0 with the probe's second connection in the timings:\n%s", code, out)
	}
	out, code = run(t, "probe", "-s", "tls-auto", "--ca-file", ca, "-v", srv.Addr)
	if code != 0 || strings.Contains(out, "#2") || !strings.Contains(out, "=== Using implicit-tls, found for") {
		t.Fatalf("second probe: exit %d, want one connection and the remembered mode:\n%s", code, out)
	}
	out, _ = run(t, "modes", "list")
	if !strings.Contains(out, "implicit-tls") || !strings.Contains(out, srv.Addr) {
		t.Errorf("modes list:\n%s", out)
	}
	out, code = run(t, "modes", "forget", srv.Addr)
	if code != 0 || !strings.Contains(out, "Forgot the mode of "+srv.Addr) {
		t.Errorf("modes forget: exit %d:\n%s", code, out)
	}
	if out, _ = run(t, "modes", "list"); !strings.Contains(out, "No modes remembered") {
		t.Errorf("modes list after forget:\n%s", out)
	}
}

// TestModesTLSStaysRequired: once a run found STARTTLS, a later run that
// meets the same server without STARTTLS (stripped on the path) fails,
// even with --security auto, which would otherwise go on in plaintext.
func TestModesTLSStaysRequired(t *testing.T) {
	t.Setenv("SMTPKIT_MODES_FILE", filepath.Join(t.TempDir(), "modes.json"))
	var stripped atomic.Bool
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		c.Send("220 mx.test ESMTP")
		if _, err := c.Expect("EHLO"); err != nil {
			return
		}
		if stripped.Load() {
			c.Send("250-mx.test", "250 PIPELINING")
			c.WaitClose()
			return
		}
		c.Send("250-mx.test", "250 STARTTLS")
		if _, err := c.Expect("STARTTLS"); err != nil || c.Send("220 go ahead") != nil || c.StartTLS() != nil {
			return
		}
		if _, err := c.Expect("EHLO"); err == nil {
			c.Send("250 mx.test")
		}
		if _, err := c.Expect("QUIT"); err == nil {
			c.Send("221 bye")
		}
	})
	defer srv.Close()
	ca := caFile(t)
	if out, code := run(t, "probe", "-s", "auto", "--ca-file", ca, srv.Addr); code != 0 {
		t.Fatalf("first probe: exit %d:\n%s", code, out)
	}
	stripped.Store(true)
	out, code := run(t, "probe", "-s", "auto", "--ca-file", ca, srv.Addr)
	if code != exitTLS || !strings.Contains(out, "does not offer STARTTLS") {
		t.Errorf("probe after STARTTLS was stripped: exit %d, want %d (TLS):\n%s", code, exitTLS, out)
	}
}

// TestTimeoutFlagsUseTheLibraryParser: a time limit is spelt as the
// library, config files and URLs spell it: "30" is thirty seconds.
func TestTimeoutFlagsUseTheLibraryParser(t *testing.T) {
	if out, code := run(t, "probe", "--demo", "--command-timeout", "30", "--greeting-timeout", "10s"); code != 0 {
		t.Errorf("--command-timeout 30: exit %d:\n%s", code, out)
	}
	out, code := run(t, "probe", "--demo", "--timeout", "30 sec")
	if code != exitUsage || !strings.Contains(out, "is not a duration") {
		t.Errorf("--timeout \"30 sec\": exit %d, want %d:\n%s", code, exitUsage, out)
	}
}
