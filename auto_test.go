package smtpkit_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

func TestAutoOnPort465AgainstPlaintextServer(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	var reasons []smtpkit.Reason
	c, err := smtpkit.Dial(testContext(t), "127.0.0.1:465", &smtpkit.Options{
		Security:  smtpkit.SecurityAuto,
		Dialer:    portDialer{real: srv.Addr},
		TLSConfig: smtptest.ClientTLSConfig(),
		Trace: func(e smtpkit.Event) {
			if e, ok := e.(smtpkit.SecurityChosen); ok {
				reasons = append(reasons, e.Reason)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Security() != smtpkit.SecurityStartTLS {
		t.Errorf("Security() = %s, want starttls", c.Security())
	}
	if n := srv.Connections(); n != 2 {
		t.Errorf("%d connections, want 2: implicit TLS first, then plaintext", n)
	}
	if want := []smtpkit.Reason{smtpkit.ReasonPlaintextAnswer, smtpkit.ReasonStartTLSOffered}; !slices.Equal(reasons, want) {
		t.Errorf("SecurityChosen reasons %v, want %v", reasons, want)
	}
}

func TestAutoRemembersTheMode(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	var transcript lineWriter
	var connects atomic.Int32 // connections opened, counted by the Trace
	d := &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityAuto, TLSConfig: smtptest.ClientTLSConfig(), Transcript: &transcript,
		Trace: func(ev smtpkit.Event) {
			if _, ok := ev.(smtpkit.ConnectStart); ok {
				connects.Add(1)
			}
		}}}
	for i := range 2 {
		connects.Store(0)
		c, err := d.Dial(testContext(t), srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Quit(testContext(t))
		if c.Security() != smtpkit.SecurityImplicitTLS {
			t.Errorf("dial %d: Security() = %s", i, c.Security())
		}
		if n := connects.Load(); i == 1 && n != 1 {
			t.Errorf("second dial made %d connections, want 1: the mode was found before", n)
		}
	}
	if !strings.Contains(transcript.String(), "* auto: using implicit-tls, found earlier") {
		t.Errorf("transcript does not show the remembered mode:\n%s", transcript.String())
	}
}

// TestAutoRememberedTLSIsRequired checks that once STARTTLS was seen, a later
// server that stops offering it gets an error, not a plaintext session.
func TestAutoRememberedTLSIsRequired(t *testing.T) {
	var stripped atomic.Bool
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		ext := []string{"STARTTLS"}
		if stripped.Load() {
			ext = []string{"PIPELINING"}
		}
		if !greetAndEHLO(c, ext...) {
			return
		}
		if stripped.Load() {
			c.WaitClose()
			return
		}
		if _, err := c.Expect("STARTTLS"); err != nil || c.Send("220 go") != nil || c.StartTLS() != nil {
			return
		}
		if _, err := c.Expect("EHLO"); err == nil {
			c.Send(ehloReply("PIPELINING")...)
		}
		c.WaitClose()
	})
	defer srv.Close()
	d := &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityAuto, TLSConfig: smtptest.ClientTLSConfig()}}
	c, err := d.Dial(testContext(t), srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	stripped.Store(true)
	c, err = d.Dial(testContext(t), srv.Addr)
	if c != nil {
		c.Close()
		t.Fatalf("Auto went on in %s after STARTTLS disappeared", c.Security())
	}
	if !errors.Is(err, smtpkit.ErrTLSNotOffered) {
		t.Errorf("err = %v, want ErrTLSNotOffered", err)
	}
}

// TestAutoFailsFastOnBadCertificate: the TLS attempt proves the server
// speaks TLS; its certificate error must end the probe at once, not after
// the greeting timeout, and never lead to plaintext.
func TestAutoFailsFastOnBadCertificate(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := smtpkit.Dial(ctx, srv.Addr, &smtpkit.Options{
		Security:        smtpkit.SecurityAuto,
		GreetingTimeout: time.Minute,
		TLSConfig:       &tls.Config{RootCAs: nil}, // system roots: the test certificate is unknown
	})
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) || phaseOf(t, err) != smtpkit.PhaseTLS {
		t.Fatalf("err = %v, want a certificate verification error in phase tls", err)
	}
}

// TestAutoSlowPlaintextGreeterWins: a plaintext server that greets after the
// window still wins the race; the TLS attempt meets plaintext and is dropped.
func TestAutoSlowPlaintextGreeterWins(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		time.Sleep(50 * time.Millisecond)
		if greetAndEHLO(c, "PIPELINING") {
			c.WaitClose()
		}
	})
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityAuto, GreetingTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Security() != smtpkit.SecurityNone || !c.Capabilities().Pipelining() {
		t.Errorf("Security() = %s, caps %q", c.Security(), c.Capabilities().Lines())
	}
	if n := srv.Connections(); n > 2 {
		t.Errorf("%d connections, want at most 2", n)
	}
}

func TestAutoPlaintextLogsWarning(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	var logged strings.Builder
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security: smtpkit.SecurityAuto,
		Logger:   slogTo(&logged),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !strings.Contains(logged.String(), "plaintext") {
		t.Errorf("no warning logged for plaintext: %q", logged.String())
	}
}

func TestTracePhases(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	var phases []string
	_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security:  smtpkit.SecurityStartTLS,
		TLSConfig: smtptest.ClientTLSConfig(),
		Trace: func(ev smtpkit.Event) {
			e, ok := ev.(smtpkit.PhaseDone)
			if !ok {
				return
			}
			if e.Err != nil || e.Elapsed <= 0 || e.ID != 1 {
				t.Errorf("phase %s: %+v", e.Phase, e)
			}
			phases = append(phases, string(e.Phase))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "connect greeting ehlo starttls tls ehlo"
	if got := strings.Join(phases, " "); got != want {
		t.Errorf("phases %q, want %q", got, want)
	}
}

func TestDialDefaultPort(t *testing.T) {
	var dialled []string
	d := dialFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		return nil, errors.New("refused by the test")
	})
	smtpkit.Dial(testContext(t), "mail.example.com", &smtpkit.Options{Security: smtpkit.SecurityStartTLS, Dialer: d})
	smtpkit.Dial(testContext(t), "mail.example.com", &smtpkit.Options{Security: smtpkit.SecurityImplicitTLS, Dialer: d})
	smtpkit.Dial(testContext(t), "[::1]", &smtpkit.Options{Security: smtpkit.SecurityNone, Dialer: d})
	want := "mail.example.com:587 mail.example.com:465 [::1]:587"
	if got := strings.Join(dialled, " "); got != want {
		t.Errorf("dialled %q, want %q", got, want)
	}
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}

// TestAutoImplicitTLSOnAPlaintextFirstPort: on 587 Auto waits its window for
// a greeting, then tries TLS; it must not sit out the greeting timeout.
func TestAutoImplicitTLSOnAPlaintextFirstPort(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	cfg := smtptest.ClientTLSConfig()
	cfg.ServerName = "127.0.0.1"
	c, err := smtpkit.Dial(testContext(t), "127.0.0.1:587", &smtpkit.Options{
		Security:        smtpkit.SecurityAuto,
		Dialer:          portDialer{real: srv.Addr},
		TLSConfig:       cfg,
		GreetingTimeout: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Security() != smtpkit.SecurityImplicitTLS {
		t.Errorf("Security() = %s, want implicit-tls", c.Security())
	}
}

func TestAutoServerThatClosesAtOnce(t *testing.T) {
	for _, port := range []string{"", "25"} {
		srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {})
		addr, opts := srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityAuto}
		if port != "" {
			addr, opts.Dialer = "127.0.0.1:"+port, portDialer{real: srv.Addr}
		}
		_, err := smtpkit.Dial(testContext(t), addr, opts)
		if !errors.Is(err, smtpkit.ErrClosed) || phaseOf(t, err) != smtpkit.PhaseGreeting {
			t.Errorf("port %q: err = %v, want ErrClosed in phase greeting", port, err)
		}
		if n := srv.Connections(); n > 2 {
			t.Errorf("port %q: %d connections, want at most 2", port, n)
		}
		srv.Close()
	}
}

// TestAutoFailsFastOnTLSAlert: a server that answers the ClientHello with a
// TLS alert (here: no common version) speaks TLS; Auto must say so at once
// rather than wait out the greeting timeout on the plaintext connection.
func TestAutoFailsFastOnTLSAlert(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.ImplicitTLS)
	srv.Config.TLSConfig.MaxVersion = tls.VersionTLS12
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := smtpkit.Dial(ctx, srv.Addr, &smtpkit.Options{
		Security:        smtpkit.SecurityAuto,
		GreetingTimeout: time.Hour,
		TLSConfig:       smtptest.ClientTLSConfig(),
		TLS:             smtpkit.TLSOptions{Versions: []uint16{tls.VersionTLS13}},
	})
	if phaseOf(t, err) != smtpkit.PhaseTLS || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a TLS-phase error before the test's deadline", err)
	}
}
