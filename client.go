package smtpkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smtpkit/smtpkit/internal/wire"
)

// Client is one session with an SMTP server, set up by a Dialer or
// NewClient. A Client is not safe for concurrent use, except Close, which may
// be called at any time.
type Client struct {
	t        *target
	id       uint64 // the connection's number within its Dialer, for events
	nc       net.Conn
	out      *guard // what the wire layer writes to: nc, refusing writes outside a deadline
	wire     *wire.Conn
	greeting Reply
	caps     Capabilities
	security Security             // in use: SecurityImplicitTLS, SecurityStartTLS or SecurityNone
	tlsState *tls.ConnectionState // nil until TLS is up
	err      error                // set when the connection broke; every later call returns it
	closed   atomic.Bool          // set by Close, which may run on another goroutine

	needReset  bool     // a transaction was left open: RSET before the next MAIL
	sentAtRead int64    // out.sent when the last reply was read (-1 before the first)
	lines      []string // the lines of the reply being read, for ReplyRead; only when tracing
	authMech   string

	// Buffers that every message of the connection uses in turn.
	chunks  chunker
	dw      *wire.DataWriter
	readBuf []byte
}

func (t *target) newClient(nc net.Conn, id uint64) *Client {
	c := &Client{t: t, id: id, nc: nc, security: SecurityNone, sentAtRead: -1}
	c.out = &guard{Conn: nc}
	var hook func(bool, string, bool)
	if t.p.tracing {
		hook = c.traceLine
	}
	c.wire = wire.NewConn(c.out, wire.Config{Trace: hook})
	return c
}

// conn names the connection in events.
func (c *Client) conn() Conn { return Conn{ID: c.id, Addr: c.t.addr} }

// traceLine turns the wire layer's lines into events: each command at once,
// the lines of a reply once the reply is whole (see readReply).
func (c *Client) traceLine(sent bool, line string, redacted bool) {
	if sent {
		c.t.emit(CommandSent{Conn: c.conn(), Line: line, Redacted: redacted, TLS: c.tlsState != nil})
		return
	}
	c.lines = append(c.lines, line)
}

// guard passes writes to the connection only inside a bounded step (see
// bounded): a write anywhere else, which would run under no deadline and
// deaf to the context, fails instead, so a test finds it.
type guard struct {
	net.Conn
	armed bool
	sent  int64 // bytes written to the connection so far
}

// errUnbounded is the failure of a write outside a bounded step: a bug in smtpkit.
var errUnbounded = errors.New("smtpkit: internal error: a write outside a time limit")

func (g *guard) Write(p []byte) (int, error) {
	if !g.armed {
		return 0, errUnbounded
	}
	n, err := g.Conn.Write(p)
	g.sent += int64(n)
	return n, err
}

// queued returns how many bytes have been given to the connection so far,
// sent or buffered.
func (c *Client) queued() int64 { return c.out.sent + int64(c.wire.Unsent()) }

// ConnID returns the number of the connection in the events of its Dialer (see Event).
func (c *Client) ConnID() uint64 { return c.id }

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
	ctx, cancel := operation(ctx, c.t.opts.Timeout)
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
	ctx, cancel := operation(ctx, c.t.opts.Timeout)
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
	if err := c.send(ctx, p, verb, args...); err != nil {
		return nil, err
	}
	return c.reply(ctx, p, time.Now(), limit, ErrCommandTimeout)
}

// send buffers one command, within the command limit (a long line may
// reach the socket at once); a command refused for CR, LF or NUL leaves
// the connection as it was.
func (c *Client) send(ctx context.Context, p Phase, verb string, args ...string) error {
	return c.write(ctx, p, c.t.opts.CommandTimeout, func() error { return c.wire.WriteCommand(verb, args...) })
}

// reply sends what is buffered and reads one reply, within limit from now
// and ctx; the phase is traced as having started at start. A failure breaks
// the connection. A 421 closes it too (RFC 5321 3.8: the server is
// closing): the reply is returned with an *Error that wraps ErrClosed, and
// every later call fails with that error.
func (c *Client) reply(ctx context.Context, p Phase, start time.Time, limit time.Duration, timeoutErr error) (*Reply, error) {
	return c.await(ctx, p, start, limit, timeoutErr, true)
}

// await is reply, flushing first only when flush is set: a caller that
// knows the command answered has left the buffer may leave a half-built
// group in it.
func (c *Client) await(ctx context.Context, p Phase, start time.Time, limit time.Duration, timeoutErr error, flush bool) (*Reply, error) {
	var r *Reply
	err := c.exchange(ctx, p, start, limit, timeoutErr, func() error {
		if flush {
			if err := c.wire.Flush(); err != nil {
				return err
			}
		}
		var err error
		if r, err = c.readReply(); err == nil {
			c.sentAtRead = c.out.sent
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.Code == 421 {
		c.nc.Close()
		c.err = c.replyError(p, r, ErrClosed)
		return r, c.err
	}
	return r, nil
}

func (c *Client) readReply() (*Reply, error) {
	c.lines = c.lines[:0]
	r, err := c.wire.ReadReply(c.caps.EnhancedStatusCodes())
	if err != nil {
		return nil, err
	}
	reply := fromWire(r)
	if c.t.p.tracing {
		c.t.emit(ReplyRead{Conn: c.conn(), Reply: *reply, Lines: slices.Clone(c.lines), TLS: c.tlsState != nil})
	}
	return reply, nil
}

// alive reports whether an idle connection still looks usable: the server
// has neither closed it nor sent anything unasked (such as a 421 before
// closing). It costs no round trip.
func (c *Client) alive() bool {
	if c.usable(PhaseMail) != nil || c.wire.Buffered() > 0 {
		return false
	}
	if pending, known := socketPending(c.nc); known {
		return !pending
	}
	// No socket to look at: wait a moment for what may have arrived. (A
	// deadline already passed would not look at the socket at all.)
	c.nc.SetReadDeadline(time.Now().Add(time.Millisecond))
	err := c.wire.Peek()
	c.nc.SetReadDeadline(time.Time{})
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// rawSocket returns the socket under nc, through TLS and the wrappers
// that say what they wrap, or nil.
func rawSocket(nc net.Conn) syscall.Conn {
	for range 8 {
		if sc, ok := nc.(syscall.Conn); ok {
			return sc
		}
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = w.NetConn()
	}
	return nil
}

// exchange runs f, which flushes and reads, bounded by limit from now and
// by ctx (see bounded). Any failure breaks the connection: its state is
// unknown. The phase is traced as having started at start.
func (c *Client) exchange(ctx context.Context, p Phase, start time.Time, limit time.Duration, timeoutErr error, f func() error) error {
	if err := c.usable(p); err != nil {
		return err
	}
	err := c.bounded(ctx, limit, f)
	if err != nil {
		c.nc.Close()
		err = &Error{Phase: p, Addr: c.t.addr, Err: explain(err, limit, timeoutErr), Hints: timeoutHints(err, timeoutErr)}
		c.err = err
	}
	if c.t.p.tracing {
		c.t.emit(PhaseDone{Conn: c.conn(), Phase: p, Elapsed: time.Since(start), Err: err})
	}
	return err
}

// write runs f, which buffers what is to be sent (a full buffer reaches the
// socket), bounded by limit from now and by ctx; a failure breaks the
// connection. Every write goes through here or exchange: the guard refuses
// any other, so no write runs under a deadline left over from an earlier
// reply, nor deaf to the context.
func (c *Client) write(ctx context.Context, p Phase, limit time.Duration, f func() error) error {
	if err := c.usable(p); err != nil {
		return err
	}
	if err := c.bounded(ctx, limit, f); err != nil {
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

// bounded runs f with the connection's deadline at limit from now or ctx's
// deadline, whichever comes first, and with writes allowed; see bounded.
func (c *Client) bounded(ctx context.Context, limit time.Duration, f func() error) error {
	c.out.armed = true
	defer func() { c.out.armed = false }()
	return bounded(ctx, c.nc, limit, f)
}

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
	var err error
	if ctx.Done() == nil {
		err = f() // a context that can never end: nothing to watch
	} else {
		interrupted := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			nc.SetDeadline(aLongTimeAgo)
			close(interrupted)
		})
		err = f()
		if !stop() {
			<-interrupted
		}
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

// timeoutHints returns the hints of a greeting timeout, which mean the
// server may speak another security mode.
func timeoutHints(err, timeoutErr error) []Hint {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	var h interface{ hints() []Hint }
	if errors.As(timeoutErr, &h) {
		return h.hints()
	}
	return nil
}

// hinted is a cause that comes with hints.
type hinted struct {
	error
	h []Hint
}

func (e hinted) hints() []Hint { return e.h }
func (e hinted) Unwrap() error { return e.error }

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
	var timeoutErr error = hinted{ErrGreetingTimeout, []Hint{
		{Field: "Security", Value: SecurityImplicitTLS}, {Field: "Security", Value: SecurityTLSAuto}}}
	if c.tlsState != nil {
		timeoutErr = fmt.Errorf("%w over TLS; the server may be overloaded", ErrGreetingTimeout)
	}
	r, err := c.reply(ctx, PhaseGreeting, since, limit, timeoutErr)
	if err != nil {
		return err
	}
	if r.Code != 220 {
		c.Close()
		return c.replyError(PhaseGreeting, r, errors.New("the server does not accept a session now"))
	}
	c.greeting = *r
	if c.t.p.tracing {
		c.t.emit(Greeted{Conn: c.conn(), Reply: *r})
	}
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
		c.capable()
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
	c.capable()
	return nil
}

func (c *Client) capable() {
	if c.t.p.tracing {
		c.t.emit(Capable{Conn: c.conn(), Capabilities: c.caps, TLS: c.tlsState != nil})
	}
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
