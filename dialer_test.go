package smtpkit_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// Auto's mode memory and the TLS files are a Dialer's own since the
// redesign; at dcaafbe the memory was a package-level map keyed by
// host:port alone, with no Forget, and there was no Reload.

// probeAddr is a port-465 address: Auto tries implicit TLS first, and a
// STARTTLS server's plaintext answer makes it dial again, so a probe opens
// two connections, one after the other, and a remembered mode one.
const probeAddr = "127.0.0.1:465"

// countStarts returns a Trace counting the connections opened.
func countStarts(n *atomic.Int32) func(smtpkit.Event) {
	return func(ev smtpkit.Event) {
		if _, ok := ev.(smtpkit.ConnectStart); ok {
			n.Add(1)
		}
	}
}

// dialCounting dials addr with d and returns how many connections it opened.
func dialCounting(t *testing.T, d *smtpkit.Dialer, n *atomic.Int32, addr string) int {
	t.Helper()
	n.Store(0)
	c, err := d.Dial(testContext(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Security() != smtpkit.SecurityStartTLS {
		t.Errorf("Security() = %s, want starttls", c.Security())
	}
	return int(n.Load())
}

// TestModesKeyedByProxy: the same address reached through two proxies is
// two network paths, remembered apart, even in one shared ModeCache.
func TestModesKeyedByProxy(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	toServer := func(ctx context.Context, addr string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "tcp", srv.Addr) // whatever port was asked for
	}
	p1 := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{Dial: toServer})
	defer p1.Close()
	p2 := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{Dial: toServer})
	defer p2.Close()
	modes := smtpkit.NewMemoryModeCache()
	var n atomic.Int32
	through := func(p *smtptest.Proxy) *smtpkit.Dialer {
		return &smtpkit.Dialer{Modes: modes, Options: smtpkit.Options{Security: smtpkit.SecurityAuto,
			TLSConfig: smtptest.ClientTLSConfig(), Proxy: p.URL(), Trace: countStarts(&n)}}
	}
	d1, d2 := through(p1), through(p2)
	k1, err1 := d1.ModeKey(probeAddr)
	k2, err2 := d2.ModeKey(probeAddr)
	direct, err3 := (&smtpkit.Dialer{Modes: modes}).ModeKey(probeAddr)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if k1 == k2 || k1 == direct || k2 == direct {
		t.Fatalf("ModeKeys %q, %q and (direct) %q; want three", k1, k2, direct)
	}
	if !strings.Contains(k1, p1.Addr) || !strings.Contains(k2, p2.Addr) || !strings.HasPrefix(k1, probeAddr) {
		t.Errorf("ModeKeys %q and %q do not name the address and their proxies", k1, k2)
	}
	if got := dialCounting(t, d1, &n, probeAddr); got != 2 {
		t.Errorf("first Dial through proxy 1 opened %d connections, want 2 (a probe)", got)
	}
	if mode, ok := modes.Get(k1); !ok || mode != smtpkit.SecurityStartTLS {
		t.Errorf("remembered for %q: %s, %v; want starttls", k1, mode, ok)
	}
	if _, ok := modes.Get(k2); ok {
		t.Errorf("a Dial through proxy 1 filled the key of proxy 2")
	}
	if got := dialCounting(t, d1, &n, probeAddr); got != 1 {
		t.Errorf("second Dial through proxy 1 opened %d connections, want 1 (remembered)", got)
	}
	if got := dialCounting(t, d2, &n, probeAddr); got != 2 {
		t.Errorf("first Dial through proxy 2 opened %d connections, want 2: another path probes afresh", got)
	}
	for _, p := range []*smtptest.Proxy{p1, p2} {
		for _, r := range p.Requests() {
			if r.Target != probeAddr {
				t.Errorf("proxy %s asked for %q, want %q", p.Addr, r.Target, probeAddr)
			}
		}
	}
}

// TestForgetProbesAgain: after Forget the next Dial probes again.
func TestForgetProbesAgain(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	var n atomic.Int32
	d := &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityAuto, TLSConfig: smtptest.ClientTLSConfig(),
		Dialer: portDialer{real: srv.Addr}, Trace: countStarts(&n)}}
	for i, want := range []int{2, 1} {
		if got := dialCounting(t, d, &n, probeAddr); got != want {
			t.Errorf("Dial %d opened %d connections, want %d", i+1, got, want)
		}
	}
	if err := d.Forget(probeAddr); err != nil {
		t.Fatal(err)
	}
	if got := dialCounting(t, d, &n, probeAddr); got != 2 {
		t.Errorf("Dial after Forget opened %d connections, want 2 (a probe)", got)
	}
}

// TestFileModeCacheAcrossDialers: a mode found by one Dialer is used by
// another Dialer value reading the same file, as by another run.
func TestFileModeCacheAcrossDialers(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "modes.json")
	var n atomic.Int32
	newDialer := func() *smtpkit.Dialer {
		return &smtpkit.Dialer{Modes: &smtpkit.FileModeCache{Path: path}, Options: smtpkit.Options{
			Security: smtpkit.SecurityAuto, TLSConfig: smtptest.ClientTLSConfig(),
			Dialer: portDialer{real: srv.Addr}, Trace: countStarts(&n)}}
	}
	if got := dialCounting(t, newDialer(), &n, probeAddr); got != 2 {
		t.Errorf("first Dialer opened %d connections, want 2 (a probe)", got)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the mode file was not written: %v", err)
	}
	if got := dialCounting(t, newDialer(), &n, probeAddr); got != 1 {
		t.Errorf("second Dialer opened %d connections, want 1: the mode is in the file", got)
	}
}

// TestReloadRereadsTheCAFile: a Dialer reads its CA file once; Reload
// makes it read the file again.
func TestReloadRereadsTheCAFile(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	_, other := newCert(t, smtptest.CertOptions{})
	ca := writeFile(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Raw}))
	d := &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityStartTLS, TLS: smtpkit.TLSOptions{CAFile: ca}}}
	untrusted := func(what string) {
		t.Helper()
		c, err := d.Dial(testContext(t), srv.Addr)
		if c != nil {
			c.Close()
			t.Fatalf("%s: Dial succeeded with the wrong CA", what)
		}
		if !errors.As(err, new(x509.UnknownAuthorityError)) || phaseOf(t, err) != smtpkit.PhaseTLS {
			t.Fatalf("%s: err = %v, want an unknown authority in phase tls", what, err)
		}
	}
	untrusted("wrong CA")
	if err := os.WriteFile(ca, smtptest.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	untrusted("right CA written, no Reload") // the file was read once
	d.Reload()
	c, err := d.Dial(testContext(t), srv.Addr)
	if err != nil {
		t.Fatalf("Dial after Reload: %v", err)
	}
	c.Close()
}
