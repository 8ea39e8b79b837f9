package smtpkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// How Auto and TLS-auto find the server's mode
//
// A plaintext SMTP server speaks first: it sends its 220 greeting as soon as
// the connection is up. An implicit-TLS server waits for the client's TLS
// ClientHello and sends nothing. A plaintext server that receives a
// ClientHello before its greeting may take it as a protocol violation
// (Postfix's postscreen, for one, tests for clients that talk first). The
// probe weighs speed against that by the port's convention:
//
//  1. A mode remembered for this host:port (below) is used as if the user
//     had asked for it: no probe.
//  2. Port 465 is implicit TLS (RFC 8314): the TLS handshake starts at once.
//     Only when the server answers the ClientHello in plaintext does the
//     probe dial again, without TLS: one extra connection at most.
//  3. Ports 25, 587 and 2525 are plaintext-first by convention: connect and
//     wait for the first byte of a greeting for a window of a few connection
//     round trips, at least half a second. Bytes within the window mean
//     plaintext, on this connection; a server that greets in time never
//     sees a ClientHello. Silence means a second connection starts a TLS
//     handshake while the first keeps waiting for a greeting until
//     GreetingTimeout: the first greeting wins, the other is closed.
//  4. Any other port follows no convention, so nothing waits: as soon as
//     the first connection is up, it waits for a plaintext greeting while a
//     second connection starts a TLS handshake. The first greeting wins and
//     the other connection is closed. This costs one extra connection and
//     one connection round trip for an implicit-TLS server. A prompt
//     plaintext server has usually greeted before the second connection is
//     up, and then no ClientHello is sent at all; a slower one sees one
//     ClientHello per process, since the mode found is remembered.
//
// In a race, a TLS handshake that fails in a way that shows the server
// speaks TLS (a certificate that does not verify, a TLS alert) ends the
// probe at once with that error: a certificate problem is never a reason to
// try plaintext. On the plaintext path STARTTLS is used whenever offered, and
// a refused or failed STARTTLS is an error. Auto goes on in plaintext only
// when the server offers no TLS at all, logs a warning and reports
// SecurityNone; TLS-auto fails with ErrTLSNotOffered.
//
// The mode that worked is remembered in the Dialer's ModeCache, keyed by
// the network path: the address, the proxy, the local address and the TLS
// server name. A remembered TLS mode is then required, so an attacker who
// later strips STARTTLS meets an error, not a downgrade; a FileModeCache
// keeps that promise across runs, as HSTS does in browsers.

// The window a plaintext-first port gets to greet before implicit TLS is
// tried in parallel.
const (
	autoWindowRoundTrips = 4
	autoWindowMin        = 500 * time.Millisecond
)

// plaintextFirstPorts are the ports where a server greets in plaintext by convention.
var plaintextFirstPorts = map[string]bool{"25": true, "587": true, "2525": true}

// plainPolicy is what Auto or TLS-auto does on the plaintext path.
func (t *target) plainPolicy() Security {
	if t.opts.Security == SecurityTLSAuto {
		return SecurityStartTLS
	}
	return SecurityStartTLSIfOffered
}

func (t *target) dialAuto(ctx context.Context) (*Client, error) {
	key := t.modeKey()
	if mode, ok := t.p.modes.Get(key); ok {
		return t.dialRemembered(ctx, key, mode)
	}
	var (
		c   *Client
		err error
	)
	switch {
	case t.port == "465":
		c, err = t.autoTLSFirst(ctx)
	case plaintextFirstPorts[t.port]:
		c, err = t.autoGreetingFirst(ctx)
	default:
		var plain *Client
		if plain, err = t.open(ctx, ""); err == nil {
			c, err = t.race(ctx, plain, time.Now(), 0)
		}
	}
	if err != nil {
		return nil, err
	}
	t.p.modes.Put(key, c.security)
	if c.security == SecurityNone && t.opts.Logger != nil {
		t.opts.Logger.Warn("smtpkit: the server offers no TLS; Auto goes on in plaintext", "addr", t.addr)
	}
	return c, nil
}

// dialRemembered dials in the mode an earlier probe found. When the server
// no longer speaks the way it did, the error is returned and the mode
// forgotten, so the next Dial probes again.
func (t *target) dialRemembered(ctx context.Context, key string, mode Security) (*Client, error) {
	var (
		c   *Client
		err error
	)
	switch mode {
	case SecurityImplicitTLS:
		c, err = t.dialImplicitTLS(ctx, "")
		if errors.As(err, new(tls.RecordHeaderError)) {
			t.p.modes.Forget(key)
		}
	case SecurityStartTLS:
		c, err = t.dialPlainFirst(ctx, SecurityStartTLS, "")
	default:
		c, err = t.dialPlainFirst(ctx, t.plainPolicy(), "")
	}
	if mode != SecurityImplicitTLS && errors.Is(err, ErrGreetingTimeout) {
		t.p.modes.Forget(key)
	}
	if err == nil {
		c.chosen(c.security, ReasonRemembered, 0)
	}
	return c, err
}

// autoTLSFirst tries implicit TLS, then plaintext when the server answered
// the ClientHello in plaintext.
func (t *target) autoTLSFirst(ctx context.Context) (*Client, error) {
	c, err := t.dialImplicitTLS(ctx, "")
	if err == nil {
		c.chosen(SecurityImplicitTLS, ReasonTLSHandshake, 0)
	}
	if err == nil || !errors.As(err, new(tls.RecordHeaderError)) {
		return c, err
	}
	if c, err = t.open(ctx, "plaintext"); err != nil {
		return nil, err
	}
	c.chosen(SecurityNone, ReasonPlaintextAnswer, 0)
	return t.plainSession(ctx, c, t.plainPolicy())
}

// autoGreetingFirst waits for a plaintext greeting and races implicit TLS
// when the server stays silent.
func (t *target) autoGreetingFirst(ctx context.Context) (*Client, error) {
	start := time.Now()
	c, err := t.open(ctx, "")
	if err != nil {
		return nil, err
	}
	connected := time.Now()
	window := max(autoWindowRoundTrips*connected.Sub(start), autoWindowMin)
	window = min(window, t.opts.GreetingTimeout)
	err = c.bounded(ctx, window, c.wire.Peek)
	switch {
	case err == nil: // the server spoke first: plaintext SMTP
		if err := c.readGreeting(ctx, connected, t.opts.GreetingTimeout-time.Since(connected)); err != nil {
			return nil, err
		}
		c.chosen(SecurityNone, ReasonGreetedFirst, 0)
		return t.finishPlainGreeted(ctx, c)
	case ctx.Err() != nil:
		c.nc.Close()
		return nil, &Error{Phase: PhaseGreeting, Addr: t.addr, Err: context.Cause(ctx)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return t.race(ctx, c, connected, window)
	default:
		// Closed without a word: not a plaintext SMTP server that wants us.
		c.nc.Close()
		c2, tlsErr := t.dialImplicitTLS(ctx, "implicit-tls")
		if tlsErr != nil {
			return nil, &Error{Phase: PhaseGreeting, Addr: t.addr, Err: explain(err, 0, nil)}
		}
		c2.chosen(SecurityImplicitTLS, ReasonClosedInPlaintext, 0)
		return c2, nil
	}
}

// finishPlainGreeted completes a greeted plaintext session by the plaintext policy.
func (t *target) finishPlainGreeted(ctx context.Context, c *Client) (*Client, error) {
	if err := c.hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.secure(ctx, t.plainPolicy()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// race waits for a plaintext greeting on plain, connected at connected,
// while a second connection tries implicit TLS; the first greeting wins.
// window is how long plain has waited alone, for SecurityChosen.
func (t *target) race(ctx context.Context, plain *Client, connected time.Time, window time.Duration) (*Client, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Buffered: neither attempt ever blocks on sending its result.
	type result struct {
		c         *Client
		err       error
		tls       bool
		handshook bool
	}
	results := make(chan result, 2)
	go func() {
		err := plain.readGreeting(rctx, connected, t.opts.GreetingTimeout-time.Since(connected))
		results <- result{c: plain, err: err}
	}()
	go func() {
		c, handshook, err := t.openImplicitTLS(rctx, "implicit-tls")
		results <- result{c: c, err: err, tls: true, handshook: handshook}
	}()

	var winner *Client
	var plainErr, tlsErr, tlsVerdict error
	for pending := 2; pending > 0 && winner == nil; pending-- {
		r := <-results
		switch {
		case r.err == nil:
			winner = r.c
			cancel()
			if pending == 2 {
				// The loser is interrupted by cancel; do not wait for it to
				// notice, just make sure its connection is closed.
				go func() {
					if r := <-results; r.c != nil {
						r.c.Close()
					}
				}()
			}
		case r.tls:
			tlsErr = r.err
			if r.handshook || speaksTLS(r.err) {
				// TLS is spoken here but failed: no reason to wait for plaintext.
				tlsVerdict = r.err
				cancel()
			}
		default:
			plainErr = r.err
		}
	}
	switch {
	case winner != nil:
	case tlsVerdict != nil:
		return nil, tlsVerdict
	case ctx.Err() != nil:
		return nil, &Error{Phase: PhaseGreeting, Addr: t.addr, Err: context.Cause(ctx)}
	default:
		var e *Error
		if errors.As(plainErr, &e) {
			return nil, &Error{Phase: e.Phase, Addr: t.addr, Err: fmt.Errorf(
				"%w; implicit TLS on a second connection failed too: %v", e.Err, tlsErr)}
		}
		return nil, plainErr
	}
	if winner.security == SecurityImplicitTLS {
		winner.chosen(SecurityImplicitTLS, ReasonTLSHandshake, window)
		if err := winner.hello(ctx); err != nil {
			winner.Close()
			return nil, err
		}
		return winner, nil
	}
	winner.chosen(SecurityNone, ReasonGreetedFirst, window)
	return t.finishPlainGreeted(ctx, winner)
}

// speaksTLS reports whether a failed TLS attempt shows the server speaks
// TLS: the handshake got far enough to fail on certificates, an alert or
// another TLS-level problem, rather than on plaintext bytes, a closed
// connection, a timeout or a cancellation.
func speaksTLS(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Phase != PhaseTLS {
		return false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		return true // a TLS alert from the server: it speaks TLS
	}
	var netErr net.Error
	switch {
	case errors.As(err, new(tls.RecordHeaderError)),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrClosed),
		errors.As(err, &netErr),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrGreetingTimeout), errors.Is(err, ErrOperationTimeout):
		return false
	}
	return true
}
