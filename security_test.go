package smtpkit_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// outcome is what a Dial should give: a mode in use, or an error of a phase.
type outcome struct {
	mode  smtpkit.Security // when err is nil
	phase smtpkit.Phase    // when err is set
	err   error            // a sentinel, or nil for success
}

func ok(m smtpkit.Security) outcome { return outcome{mode: m} }

func fails(p smtpkit.Phase, err error) outcome { return outcome{phase: p, err: err} }

// errTLSHandshake stands for any TLS handshake failure.
var errTLSHandshake = errors.New("a TLS handshake error")

// TestModes dials every server kind in every mode, on the server's real
// (non-standard) port and as if it listened on its standard port.
func TestModes(t *testing.T) {
	var (
		none     = ok(smtpkit.SecurityNone)
		starttls = ok(smtpkit.SecurityStartTLS)
		implicit = ok(smtpkit.SecurityImplicitTLS)
		silent   = fails(smtpkit.PhaseGreeting, smtpkit.ErrGreetingTimeout)
		notTLS   = fails(smtpkit.PhaseTLS, errTLSHandshake)
		noTLS    = fails(smtpkit.PhaseSTARTTLS, smtpkit.ErrTLSNotOffered)
	)
	want := map[smtpkit.Security]map[smtptest.Security]outcome{
		smtpkit.SecurityNone:              {smtptest.Plain: none, smtptest.StartTLS: none, smtptest.ImplicitTLS: silent},
		smtpkit.SecurityStartTLSIfOffered: {smtptest.Plain: none, smtptest.StartTLS: starttls, smtptest.ImplicitTLS: silent},
		smtpkit.SecurityStartTLS:          {smtptest.Plain: noTLS, smtptest.StartTLS: starttls, smtptest.ImplicitTLS: silent},
		smtpkit.SecurityImplicitTLS:       {smtptest.Plain: notTLS, smtptest.StartTLS: notTLS, smtptest.ImplicitTLS: implicit},
		smtpkit.SecurityAuto:              {smtptest.Plain: none, smtptest.StartTLS: starttls, smtptest.ImplicitTLS: implicit},
		smtpkit.SecurityTLSAuto:           {smtptest.Plain: noTLS, smtptest.StartTLS: starttls, smtptest.ImplicitTLS: implicit},
	}
	standardPort := map[smtptest.Security]string{smtptest.Plain: "25", smtptest.StartTLS: "587", smtptest.ImplicitTLS: "465"}

	for _, kind := range []smtptest.Security{smtptest.Plain, smtptest.StartTLS, smtptest.ImplicitTLS} {
		for mode := smtpkit.SecurityTLSAuto; mode <= smtpkit.SecurityNone; mode++ {
			for _, standard := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/standard-port=%v", mode, kind, standard)
				t.Run(name, func(t *testing.T) {
					// A server of its own: an attempt Auto abandoned may
					// still be connecting after Dial returned.
					srv := smtptest.NewServer(kind)
					defer srv.Close()
					addr := srv.Addr
					opts := &smtpkit.Options{
						Security:        mode,
						TLSConfig:       smtptest.ClientTLSConfig(),
						GreetingTimeout: 300 * time.Millisecond,
					}
					if expected := want[mode][kind]; expected.err == nil && (mode == smtpkit.SecurityAuto || mode == smtpkit.SecurityTLSAuto) {
						// Detection must not lean on the greeting timeout: make it
						// longer than the test's own deadline.
						opts.GreetingTimeout = time.Minute
					}
					if standard {
						addr = net.JoinHostPort("127.0.0.1", standardPort[kind])
						opts.Dialer = portDialer{real: srv.Addr}
						opts.TLSConfig.ServerName = "127.0.0.1"
					}
					c, err := smtpkit.Dial(testContext(t), addr, opts)
					checkOutcome(t, c, err, want[mode][kind])
					if c != nil {
						if err := c.Quit(testContext(t)); err != nil {
							t.Errorf("Quit: %v", err)
						}
					}
					if n := srv.Connections(); n > 2 || (n > 1 && mode != smtpkit.SecurityAuto && mode != smtpkit.SecurityTLSAuto) {
						t.Errorf("Dial made %d connections", n)
					}
				})
			}
		}
	}
}

func checkOutcome(t *testing.T, c *smtpkit.Client, err error, want outcome) {
	t.Helper()
	if want.err == nil {
		if err != nil {
			t.Fatalf("Dial: %v; want success in %s", err, want.mode)
		}
		if got := c.Security(); got != want.mode {
			t.Errorf("Security() = %s, want %s", got, want.mode)
		}
		_, tlsOn := c.TLSConnectionState()
		if tlsOn != (want.mode != smtpkit.SecurityNone) {
			t.Errorf("TLSConnectionState ok = %v in mode %s", tlsOn, want.mode)
		}
		if c.Greeting().Code != 220 || !c.Capabilities().ESMTP() {
			t.Errorf("greeting %v, ESMTP %v; want 220 and EHLO accepted", c.Greeting(), c.Capabilities().ESMTP())
		}
		return
	}
	if c != nil {
		c.Close()
		t.Fatalf("Dial succeeded in %s; want an error of phase %s", c.Security(), want.phase)
	}
	var e *smtpkit.Error
	if !errors.As(err, &e) {
		t.Fatalf("Dial error %T %v is not a *smtpkit.Error", err, err)
	}
	if e.Phase != want.phase {
		t.Errorf("error phase %s, want %s (%v)", e.Phase, want.phase, err)
	}
	if want.err == errTLSHandshake {
		if !errors.As(err, new(tls.RecordHeaderError)) {
			t.Errorf("error %v; want a TLS record header error", err)
		}
	} else if !errors.Is(err, want.err) {
		t.Errorf("error %v; want errors.Is %v", err, want.err)
	}
}
