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
func (t *target) dialPlainFirst(ctx context.Context, mode Security) (*Client, error) {
	c, err := t.open(ctx)
	if err != nil {
		return nil, err
	}
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
		return c.startTLS(ctx)
	case mode == SecurityStartTLSIfOffered:
		c.t.transcript.event("STARTTLS not offered: going on in plaintext")
		return nil
	default:
		c.t.transcript.event("STARTTLS not offered: stopping, TLS is required")
		return &Error{Phase: PhaseSTARTTLS, Addr: c.t.addr, Err: ErrTLSNotOffered}
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
func (t *target) dialImplicitTLS(ctx context.Context) (*Client, error) {
	c, _, err := t.openImplicitTLS(ctx)
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
func (t *target) openImplicitTLS(ctx context.Context) (c *Client, handshook bool, err error) {
	c, err = t.open(ctx)
	if err != nil {
		return nil, false, err
	}
	start := time.Now()
	c.security = SecurityImplicitTLS
	timeoutErr := fmt.Errorf("%w: the TLS handshake did not finish; the server may not speak TLS "+
		"from the first byte (try SecurityStartTLS or SecurityAuto)", ErrGreetingTimeout)
	if err := c.handshake(ctx, t.opts.GreetingTimeout, timeoutErr); err != nil {
		return nil, false, err
	}
	if err := c.readGreeting(ctx, time.Now(), t.opts.GreetingTimeout-time.Since(start)); err != nil {
		return nil, true, err
	}
	return c, true, nil
}

// handshake runs the client side of a TLS handshake on the connection.
func (c *Client) handshake(ctx context.Context, limit time.Duration, timeoutErr error) error {
	tc := tls.Client(c.nc, c.t.tlsConfig())
	err := c.exchange(ctx, PhaseTLS, time.Now(), limit, timeoutErr, func() error {
		err := tc.Handshake()
		if errors.As(err, new(tls.RecordHeaderError)) {
			return fmt.Errorf("%w; the server answered in plaintext: it may expect STARTTLS "+
				"(try SecurityStartTLS or SecurityAuto)", err)
		}
		return err
	})
	if err != nil {
		return err
	}
	st := tc.ConnectionState()
	c.nc = tc
	c.wire.Reset(tc)
	c.tlsState = &st
	c.t.transcript.event("TLS up: %s, %s, server certificate %s",
		tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), peerSubject(st))
	return nil
}

func peerSubject(st tls.ConnectionState) string {
	if len(st.PeerCertificates) == 0 {
		return "(none)"
	}
	return st.PeerCertificates[0].Subject.String()
}
