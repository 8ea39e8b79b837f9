package interop_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smtpkit/smtpkit"
)

// connCounter is a Trace that counts the connections one Dial opened.
type connCounter struct {
	mu  sync.Mutex
	max int
}

func (c *connCounter) trace() func(smtpkit.Event) {
	return func(e smtpkit.Event) {
		if _, ok := e.(smtpkit.ConnectStart); ok {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.max++
		}
	}
}

func (c *connCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = 0
}

// switchDialer dials wherever to says at the time, as a network path an
// attacker can change would.
type switchDialer struct{ to atomic.Value }

func (s *switchDialer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, s.to.Load().(string))
}

func (c *connCounter) conns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

// TestAutoRemembersTheMode: after Auto or TLS-auto found a server's mode,
// the next Dial to the same host:port uses it directly, on one connection,
// and ends in the same place. A failed detection is not remembered, so a
// second Dial fails the same way.
func TestAutoRemembersTheMode(t *testing.T) {
	p := needPeers(t)
	for _, row := range modeMatrix {
		if row.mode != smtpkit.SecurityAuto && row.mode != smtpkit.SecurityTLSAuto {
			continue
		}
		for i, srv := range servers {
			want := row.want[i]
			t.Run(row.mode.String()+"/"+srv.name, func(t *testing.T) {
				t.Parallel()
				addr, dialer := p.fresh(t, srv.key)
				opts := p.options(t, row.mode)
				opts.Dialer = dialer
				var cc connCounter
				opts.Trace = cc.trace()
				d := &smtpkit.Dialer{Options: *opts} // what it finds, it remembers
				for attempt := 1; attempt <= 2; attempt++ {
					cc.reset()
					c, err := d.Dial(testContext(t), addr)
					if want.phase != "" {
						if c != nil {
							c.Close()
							t.Fatalf("Dial %d succeeded in %s; want %s", attempt, c.Security(), want.what)
						}
						if phaseOf(t, err) != want.phase || !want.check(err) {
							t.Fatalf("Dial %d: %v; want %s in phase %s", attempt, err, want.what, want.phase)
						}
						continue
					}
					if err != nil {
						t.Fatalf("Dial %d: %v", attempt, err)
					}
					if got := c.Security(); got != want.security {
						t.Errorf("Dial %d: Security() = %s, want %s", attempt, got, want.security)
					}
					if attempt == 2 && cc.conns() != 1 {
						t.Errorf("Dial with a remembered mode opened %d connections, want 1", cc.conns())
					}
					if err := c.Quit(testContext(t)); err != nil {
						t.Errorf("Quit: %v", err)
					}
				}
			})
		}
	}
}

// TestAutoRemembersTLSAsRequired: once Auto found STARTTLS on a server, a
// Dial to the same host:port that reaches a server without STARTTLS fails
// instead of going on in plaintext (as after an attacker stripped STARTTLS).
func TestAutoRemembersTLSAsRequired(t *testing.T) {
	p := needPeers(t)
	addr, _ := p.fresh(t, keySubmission)
	opts := p.options(t, smtpkit.SecurityAuto)
	path := &switchDialer{}
	path.to.Store(p.addr(t, keySubmission))
	opts.Dialer = path
	d := &smtpkit.Dialer{Options: *opts}
	c, err := d.Dial(testContext(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	if c.Security() != smtpkit.SecurityStartTLS {
		t.Fatalf("Security() = %s, want starttls", c.Security())
	}
	c.Quit(testContext(t))

	// Same Dialer, name and port, but now the connection reaches the bare
	// server, which offers no STARTTLS.
	path.to.Store(p.addr(t, keyBare))
	c, err = d.Dial(testContext(t), addr)
	if c != nil {
		c.Close()
		t.Fatalf("Dial succeeded in %s after STARTTLS disappeared", c.Security())
	}
	if !errors.Is(err, smtpkit.ErrTLSNotOffered) {
		t.Errorf("Dial: %v, want ErrTLSNotOffered", err)
	}
}
