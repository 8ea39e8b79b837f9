package smtpkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"
)

// dialPlainFirst connects in plaintext, reads the greeting, says EHLO and then
// applies mode: SecurityNone stays in plaintext, SecurityStartTLSIfOffered
// upgrades when STARTTLS is offered, SecurityStartTLS upgrades or fails.
func (t *target) dialPlainFirst(ctx context.Context, mode Security, attempt string) (*Client, error) {
	c, err := t.open(ctx, attempt)
	if err != nil {
		return nil, err
	}
	return t.plainSession(ctx, c, mode)
}

// plainSession reads the greeting on a new plaintext connection, says EHLO
// and applies mode.
func (t *target) plainSession(ctx context.Context, c *Client, mode Security) (*Client, error) {
	if err := c.readGreeting(ctx, time.Now(), t.opts.GreetingTimeout); err != nil {
		return nil, err
	}
	if err := c.hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.secure(ctx, mode); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// secure applies a plaintext session's mode after its first EHLO.
func (c *Client) secure(ctx context.Context, mode Security) error {
	switch {
	case mode == SecurityNone:
		return nil
	case c.caps.StartTLS():
		c.chosen(SecurityStartTLS, ReasonStartTLSOffered, 0)
		return c.startTLS(ctx)
	case mode == SecurityStartTLSIfOffered:
		c.chosen(SecurityNone, ReasonStartTLSMissing, 0)
		return nil
	default:
		c.chosen(SecurityNone, ReasonStartTLSMissing, 0)
		return &Error{Phase: PhaseSTARTTLS, Addr: c.t.addr, Err: ErrTLSNotOffered, Hints: []Hint{
			{Field: "Security", Value: SecurityImplicitTLS}, {Field: "Security", Value: SecurityStartTLSIfOffered}}}
	}
}

// chosen tells Trace how the session's security was decided.
func (c *Client) chosen(s Security, why Reason, window time.Duration) {
	if c.t.p.tracing {
		c.t.emit(SecurityChosen{Conn: c.conn(), Asked: c.t.opts.Security, Security: s, Reason: why, Window: window})
	}
}

// startTLS upgrades the session: STARTTLS, the handshake, and EHLO again.
// Whatever the server announced before TLS is forgotten.
func (c *Client) startTLS(ctx context.Context) error {
	r, err := c.cmd(ctx, PhaseSTARTTLS, c.t.opts.CommandTimeout, "STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return c.replyError(PhaseSTARTTLS, r, ErrTLSRefused)
	}
	if n := c.wire.Buffered(); n > 0 {
		// Bytes that came with the 220 were sent before TLS and could be an
		// attacker's replies waiting to be read as if they came over TLS.
		c.Close()
		return &Error{Phase: PhaseSTARTTLS, Addr: c.t.addr, Err: fmt.Errorf(
			"%w: the server sent %d bytes after its 220 reply to STARTTLS, before the TLS handshake; "+
				"they may have been injected, so the connection was closed", ErrProtocol, n)}
	}
	if err := c.handshake(ctx, c.t.opts.CommandTimeout, ErrCommandTimeout); err != nil {
		return err
	}
	c.caps = Capabilities{}
	c.security = SecurityStartTLS
	return c.hello(ctx)
}

// dialImplicitTLS connects, does the TLS handshake, reads the greeting and says EHLO.
func (t *target) dialImplicitTLS(ctx context.Context, attempt string) (*Client, error) {
	c, _, err := t.openImplicitTLS(ctx, attempt)
	if err != nil {
		return nil, err
	}
	if err := c.hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openImplicitTLS connects and reads the greeting over TLS; the handshake
// and the greeting share the greeting timeout. handshook reports whether the
// TLS handshake completed, which proves the server speaks TLS on that port.
func (t *target) openImplicitTLS(ctx context.Context, attempt string) (c *Client, handshook bool, err error) {
	c, err = t.open(ctx, attempt)
	if err != nil {
		return nil, false, err
	}
	return t.tlsSession(ctx, c)
}

// tlsSession does the TLS handshake on a new connection and reads the greeting over TLS.
func (t *target) tlsSession(ctx context.Context, c *Client) (_ *Client, handshook bool, err error) {
	start := time.Now()
	c.security = SecurityImplicitTLS
	timeoutErr := hinted{fmt.Errorf("%w: the TLS handshake did not finish; the server may not speak TLS "+
		"from the first byte", ErrGreetingTimeout), modeHints}
	if err := c.handshake(ctx, t.opts.GreetingTimeout, timeoutErr); err != nil {
		return nil, false, err
	}
	if err := c.readGreeting(ctx, time.Now(), t.opts.GreetingTimeout-time.Since(start)); err != nil {
		return nil, true, err
	}
	return c, true, nil
}

// modeHints are the modes to try when implicit TLS meets a server that does not speak it.
var modeHints = []Hint{{Field: "Security", Value: SecurityStartTLS}, {Field: "Security", Value: SecurityTLSAuto}}

// handshake runs the client side of a TLS handshake on the connection.
func (c *Client) handshake(ctx context.Context, limit time.Duration, timeoutErr error) error {
	tc := tls.Client(c.nc, c.t.tlsConfig())
	start := time.Now()
	plaintext := false
	err := c.exchange(ctx, PhaseTLS, start, limit, timeoutErr, func() error {
		err := tc.Handshake()
		if errors.As(err, new(tls.RecordHeaderError)) {
			plaintext = true
			return fmt.Errorf("%w; the server answered in plaintext: it may expect STARTTLS", err)
		}
		return err
	})
	if plaintext {
		var e *Error
		if errors.As(err, &e) {
			e.Hints = modeHints
		}
	}
	done := TLSDone{Conn: c.conn(), Implicit: c.security == SecurityImplicitTLS, Elapsed: time.Since(start), Err: err}
	if err != nil {
		c.t.emit(done)
		return err
	}
	st := tc.ConnectionState()
	c.nc = tc
	c.out.Conn = tc
	c.wire.Reset(c.out)
	c.tlsState = &st
	done.State = st
	c.t.emit(done)
	return nil
}
