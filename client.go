package smtpkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/smtpkit/smtpkit/internal/wire"
)

// Client is one session with an SMTP server, set up by Dial. A Client is not
// safe for concurrent use, except Close, which may be called at any time.
type Client struct {
	t        *target
	n        int // the connection's number within its Dial, for Trace
	nc       net.Conn
	wire     *wire.Conn
	greeting Reply
	caps     Capabilities
	security Security             // in use: SecurityImplicitTLS, SecurityStartTLS or SecurityNone
	tlsState *tls.ConnectionState // nil until TLS is up
	err      error                // set when the connection broke; every later call returns it
	closed   atomic.Bool          // set by Close, which may run on another goroutine

	needReset bool // a transaction was left open: RSET before the next MAIL
	replies   int  // replies read so far, to tell whether a failure came before any answer
	authMech  string
}

func (t *target) newClient(nc net.Conn, n int) *Client {
	c := &Client{t: t, n: n, nc: nc, security: SecurityNone}
	c.wire = wire.NewConn(nc, wire.Config{Trace: t.transcript.wireTrace()})
	return c
}

// Addr returns the server's address, host:port.
func (c *Client) Addr() string { return c.t.addr }

// Greeting returns the server's 220 greeting.
func (c *Client) Greeting() Reply { return c.greeting }

// Capabilities returns what the server announced in its latest reply to EHLO,
// after TLS when TLS is in use.
func (c *Client) Capabilities() Capabilities { return c.caps }

// Security returns the protection in use: SecurityImplicitTLS,
// SecurityStartTLS or SecurityNone, whatever mode was asked for.
func (c *Client) Security() Security { return c.security }

// TLSConnectionState returns the state of the TLS connection; ok is false when TLS is not in use.
func (c *Client) TLSConnectionState() (state tls.ConnectionState, ok bool) {
	if c.tlsState == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tlsState, true
}

// Noop sends NOOP, to check the connection is alive.
func (c *Client) Noop(ctx context.Context) error {
	return c.simple(ctx, PhaseNoop, "NOOP")
}

// Reset sends RSET, abandoning any transaction in progress.
func (c *Client) Reset(ctx context.Context) error {
	return c.simple(ctx, PhaseReset, "RSET")
}

func (c *Client) simple(ctx context.Context, p Phase, verb string) error {
	ctx, cancel := c.t.operation(ctx)
	defer cancel()
	r, err := c.cmd(ctx, p, c.t.opts.CommandTimeout, verb)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return c.replyError(p, r, nil)
	}
	return nil
}

// Quit sends QUIT and closes the connection, whatever the server replies.
func (c *Client) Quit(ctx context.Context) error {
	ctx, cancel := c.t.operation(ctx)
	defer cancel()
	defer c.Close()
	r, err := c.cmd(ctx, PhaseQuit, c.t.opts.CommandTimeout, "QUIT")
	if err != nil {
		return err
	}
	if r.Code != 221 {
		return c.replyError(PhaseQuit, r, nil)
	}
	return nil
}

// Close closes the connection without QUIT; any call in progress fails at once.
func (c *Client) Close() error {
	c.closed.Store(true)
	if err := c.nc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// usable returns an error when the connection is closed or broken.
func (c *Client) usable(p Phase) error {
	if c.err != nil {
		return c.err
	}
	if c.closed.Load() {
		return &Error{Phase: p, Addr: c.t.addr, Err: ErrClosed}
	}
	return nil
}

// cmd sends one command and reads its reply, within limit.
func (c *Client) cmd(ctx context.Context, p Phase, limit time.Duration, verb string, args ...string) (*Reply, error) {
	if err := c.usable(p); err != nil {
		return nil, err
	}
	if err := c.wire.WriteCommand(verb, args...); err != nil {
		// Nothing was written: the connection is still good.
		return nil, &Error{Phase: p, Addr: c.t.addr, Err: err}
	}
	var r *Reply
	err := c.exchange(ctx, p, time.Now(), limit, ErrCommandTimeout, func() error {
		if err := c.wire.Flush(); err != nil {
			return err
		}
		var err error
		r, err = c.readReply()
		return err
	})
	if err == nil && r.Code == 421 {
		// The server is closing the channel (RFC 5321 3.8): so do we.
		c.nc.Close()
		c.err = c.replyError(p, r, ErrClosed)
	}
	return r, err
}

func (c *Client) readReply() (*Reply, error) {
	r, err := c.wire.ReadReply(c.caps.EnhancedStatusCodes())
	if err != nil {
		return nil, err
	}
	c.replies++
	return fromWire(r), nil
}

// alive reports whether an idle connection still looks usable: the server
// has neither closed it nor sent anything unasked (such as a 421 before
// closing). It costs no round trip.
func (c *Client) alive() bool {
	if c.usable(PhaseMail) != nil {
		return false
	}
	c.nc.SetReadDeadline(time.Now())
	err := c.wire.Peek()
	c.nc.SetReadDeadline(time.Time{})
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// exchange runs f with the connection's deadline limit from now, or the
// context's deadline when that is earlier; cancelling ctx interrupts f at
// once. Any failure breaks the connection: its state is unknown. The phase
// is traced as having started at start.
func (c *Client) exchange(ctx context.Context, p Phase, start time.Time, limit time.Duration, timeoutErr error, f func() error) error {
	if err := c.usable(p); err != nil {
		return err
	}
	err := bounded(ctx, c.nc, limit, f)
	if err != nil {
		c.nc.Close()
		err = &Error{Phase: p, Addr: c.t.addr, Err: explain(err, limit, timeoutErr)}
		c.err = err
	}
	c.t.traceDone(p, c.n, start, err)
	return err
}

// write runs f, which writes to the connection (buffered writes may reach
// it), bounded by limit from now and by ctx; a failure breaks the
// connection. Every write goes through here or exchange, so no write runs
// under a deadline left over from an earlier reply.
func (c *Client) write(ctx context.Context, p Phase, limit time.Duration, f func() error) error {
	if err := c.usable(p); err != nil {
		return err
	}
	if err := bounded(ctx, c.nc, limit, f); err != nil {
		if errors.Is(err, ErrInvalidArgument) {
			return &Error{Phase: p, Addr: c.t.addr, Err: err} // refused before a byte was written
		}
		c.nc.Close()
		c.err = &Error{Phase: p, Addr: c.t.addr, Err: explain(err, limit, errWriteTimeout)}
		return c.err
	}
	return nil
}

// errWriteTimeout is the cause when the server stops taking what is sent.
var errWriteTimeout = fmt.Errorf("%w: the server stopped reading what was sent", ErrCommandTimeout)

// aLongTimeAgo is a deadline that has passed: setting it interrupts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// bounded runs f against nc with nc's deadline at limit from now or ctx's
// deadline, whichever comes first; ctx's cancellation interrupts f at once.
// An error caused by ctx is returned as ctx's cause.
func bounded(ctx context.Context, nc net.Conn, limit time.Duration, f func() error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	deadline := time.Now().Add(limit)
	ctxDeadline, hasCtxDeadline := ctx.Deadline()
	if hasCtxDeadline && ctxDeadline.Before(deadline) {
		deadline = ctxDeadline
	}
	nc.SetDeadline(deadline)
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		nc.SetDeadline(aLongTimeAgo)
		close(interrupted)
	})
	err := f()
	if !stop() {
		<-interrupted
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) && hasCtxDeadline && !ctxDeadline.After(deadline) {
		// The connection's deadline was the context's: report the context.
		<-ctx.Done()
		return context.Cause(ctx)
	}
	return err
}

// explain turns a deadline error into the sentinel of the limit that fired.
func explain(err error, limit time.Duration, timeoutErr error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%v)", timeoutErr, limit)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the server closed the connection", ErrClosed)
	}
	return err
}

func (c *Client) replyError(p Phase, r *Reply, cause error) *Error {
	return replyError(p, c.t.addr, r, cause)
}

// readGreeting reads the 220 greeting within limit; the wait began at since.
func (c *Client) readGreeting(ctx context.Context, since time.Time, limit time.Duration) error {
	var r *Reply
	timeoutErr := fmt.Errorf("%w; the server may expect TLS from the first byte "+
		"(try SecurityImplicitTLS or SecurityAuto), or it is overloaded", ErrGreetingTimeout)
	if c.tlsState != nil {
		timeoutErr = fmt.Errorf("%w over TLS; the server may be overloaded", ErrGreetingTimeout)
	}
	err := c.exchange(ctx, PhaseGreeting, since, limit, timeoutErr, func() error {
		var err error
		r, err = c.readReply()
		return err
	})
	if err != nil {
		return err
	}
	if r.Code != 220 {
		c.Close()
		return c.replyError(PhaseGreeting, r, errors.New("the server does not accept a session now"))
	}
	c.greeting = *r
	return nil
}

// hello sends EHLO, and HELO when the server refuses EHLO, and keeps the capabilities.
func (c *Client) hello(ctx context.Context) error {
	name := c.localName()
	r, err := c.cmd(ctx, PhaseEHLO, c.t.opts.CommandTimeout, "EHLO", name)
	if err != nil {
		return err
	}
	if r.Code == 250 {
		c.caps = parseCapabilities(r)
		return nil
	}
	if r.Code < 500 {
		return c.replyError(PhaseEHLO, r, nil)
	}
	r, err = c.cmd(ctx, PhaseEHLO, c.t.opts.CommandTimeout, "HELO", name)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return c.replyError(PhaseEHLO, r, nil)
	}
	c.caps = Capabilities{}
	return nil
}

// localName is the EHLO argument: Options.LocalName, or the address literal
// of the local end of the connection (RFC 5321 4.1.3).
func (c *Client) localName() string {
	if c.t.opts.LocalName != "" {
		return c.t.opts.LocalName
	}
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok && a.IP != nil {
		if ip4 := a.IP.To4(); ip4 != nil {
			return "[" + ip4.String() + "]"
		}
		return "[IPv6:" + a.IP.String() + "]"
	}
	return "localhost"
}
