package smtpkit

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Dialer connects to SMTP servers with one policy, Options, and keeps what
// its connections share, as net/http's Transport does: the security modes
// Auto found (Modes), the TLS configuration with its files read once, and
// the proxy dialer. It is safe for concurrent use, and its zero value is
// ready: the zero Options, modes remembered in memory.
//
// Options and Modes must not change after the first Dial. The CA, client
// certificate and key files named in Options.TLS are read on the first Dial;
// Reload makes the next Dial read them again, so a renewed certificate is
// picked up without losing what Modes remembers.
type Dialer struct {
	// Options is the policy of every connection.
	Options Options
	// Modes remembers the security mode Auto and TLS-auto found per network
	// path; nil means a memory of this Dialer's own. A FileModeCache keeps
	// it across runs.
	Modes ModeCache

	mu    sync.Mutex
	p     *prepared // nil until the first Dial, and after Reload
	modes ModeCache // Modes, or the memory made for a nil Modes

	conns   atomic.Uint64 // connections opened, to number them in events
	traceMu sync.Mutex    // serialises Options.Trace and the transcript
}

// prepared is a Dialer's Options made ready: defaults filled in, the proxy
// dialer made and the TLS files read.
type prepared struct {
	d       *Dialer
	opts    Options
	dialer  ContextDialer // to the server, through the proxy when there is one
	proxy   string        // the proxy's URL without its password; "" when none
	local   string        // the local address, for mode keys; "" when the system chooses
	tls     *tls.Config   // TLSConfig with TLS applied; cloned for each handshake
	modes   ModeCache
	tracing bool // Trace or Transcript is set: events are made
	script  *transcript
}

// Dial connects to the SMTP server at addr ("host:port") and sets up the
// session: TLS as Options.Security asks, the greeting, EHLO (or HELO), the
// capabilities, and the login when Options.Auth is set. When addr has no
// port, 465 is used for SecurityImplicitTLS and 587 (submission) otherwise.
//
// The context bounds the whole call; cancelling it interrupts any step at
// once. Invalid Options fail with an *OptionError before anything is sent.
func (d *Dialer) Dial(ctx context.Context, addr string) (*Client, error) {
	p, err := d.prepare()
	if err != nil {
		return nil, err
	}
	t, err := p.target(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := operation(ctx, p.opts.Timeout)
	defer cancel()
	var c *Client
	switch p.opts.Security {
	case SecurityImplicitTLS:
		c, err = t.dialImplicitTLS(ctx, "")
	case SecurityAuto, SecurityTLSAuto:
		c, err = t.dialAuto(ctx)
	default:
		c, err = t.dialPlainFirst(ctx, p.opts.Security, "")
	}
	if err != nil {
		return nil, err
	}
	return c.loginAsAsked(ctx)
}

// loginAsAsked logs in when Options.Auth is set; a failed login closes the connection.
func (c *Client) loginAsAsked(ctx context.Context) (*Client, error) {
	if a := c.t.opts.Auth; a != nil {
		if err := c.login(ctx, a); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Dial connects to addr as opts say: the shorthand of a Dialer made for one
// call, so Auto probes afresh each time (keep a Dialer to remember what it
// found). A nil opts means the zero Options.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	return newDialer(opts).Dial(ctx, addr)
}

// NewClient sets up a session on a connection the caller already has (from
// a dialer of its own, a pipe, a socket handed over): the shorthand of
// Dialer.NewClient for a Dialer of one call.
func NewClient(ctx context.Context, nc net.Conn, addr string, opts *Options) (*Client, error) {
	return newDialer(opts).NewClient(ctx, nc, addr)
}

// NewClient sets up a session on nc, a connection to the server at addr
// that nothing has been read from: the greeting, EHLO, TLS as
// Options.Security asks, and the login when Options.Auth is set. addr names
// the server for the certificate check and for errors. Nothing can race
// on one connection, so Auto and TLS-auto read a plaintext greeting and
// use STARTTLS as SecurityStartTLSIfOffered and SecurityStartTLS would: ask
// for SecurityImplicitTLS to speak TLS from the first byte. The Client owns
// nc from now on, and closes it on failure. The dialing options (Dialer,
// Proxy, LocalAddr, ConnectTimeout) play no part.
func (d *Dialer) NewClient(ctx context.Context, nc net.Conn, addr string) (*Client, error) {
	p, err := d.prepare()
	if err != nil {
		nc.Close()
		return nil, err
	}
	t, err := p.target(addr)
	if err != nil {
		nc.Close()
		return nil, err
	}
	ctx, cancel := operation(ctx, p.opts.Timeout)
	defer cancel()
	c := t.newClient(nc, d.conns.Add(1))
	mode := p.opts.Security
	switch mode {
	case SecurityImplicitTLS:
		if c, _, err = t.tlsSession(ctx, c); err == nil {
			if err = c.hello(ctx); err != nil {
				c.Close()
			}
		}
	case SecurityAuto:
		mode = SecurityStartTLSIfOffered
	case SecurityTLSAuto:
		mode = SecurityStartTLS
	}
	if mode != SecurityImplicitTLS {
		c, err = t.plainSession(ctx, c, mode)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c.loginAsAsked(ctx)
}

func newDialer(opts *Options) *Dialer {
	d := &Dialer{}
	if opts != nil {
		d.Options = *opts
	}
	return d
}

// Reload makes the next Dial prepare the Options again, reading the TLS
// files anew; connections already open are not touched, and what Modes
// remembers is kept.
func (d *Dialer) Reload() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.p = nil
}

// ModeKey returns the key under which Modes holds the mode found for addr:
// the address with everything else that decides the network path (the
// proxy, the local address, the TLS server name).
func (d *Dialer) ModeKey(addr string) (string, error) {
	p, err := d.prepare()
	if err != nil {
		return "", err
	}
	t, err := p.target(addr)
	if err != nil {
		return "", err
	}
	return t.modeKey(), nil
}

// Forget drops the mode remembered for addr, so the next Dial probes again.
func (d *Dialer) Forget(addr string) error {
	key, err := d.ModeKey(addr)
	if err != nil {
		return err
	}
	d.modes.Forget(key)
	return nil
}

// prepare returns the prepared Options, making them on the first call. A
// failure is not kept: the next call tries again.
func (d *Dialer) prepare() (*prepared, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p != nil {
		return d.p, nil
	}
	o, err := d.Options.withDefaults()
	if err != nil {
		return nil, err
	}
	if d.modes == nil {
		d.modes = d.Modes
		if d.modes == nil {
			d.modes = NewMemoryModeCache()
		}
	}
	p := &prepared{d: d, opts: o, modes: d.modes, tracing: o.Trace != nil || o.Transcript != nil}
	if o.Transcript != nil {
		p.script = &transcript{w: o.Transcript}
	}
	if err := p.netPath(); err != nil {
		return nil, err
	}
	d.p = p
	return p, nil
}

// emit hands an event to the transcript and to Options.Trace, one at a time.
func (p *prepared) emit(e Event) {
	if !p.tracing {
		return
	}
	p.d.traceMu.Lock()
	defer p.d.traceMu.Unlock()
	if p.script != nil {
		p.script.write(e)
	}
	if p.opts.Trace != nil {
		p.opts.Trace(e)
	}
}

// target is one server a Dial reaches, and the prepared Options it reaches it with.
type target struct {
	p    *prepared
	opts *Options // &p.opts
	addr string   // host:port
	host string
	port string
}

func (p *prepared) target(addr string) (*target, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: pick the one the mode is normally served on.
		host, port = addr, "587"
		if p.opts.Security == SecurityImplicitTLS {
			port = "465"
		}
		if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
			host = host[1 : len(host)-1]
		}
	}
	if host == "" {
		return nil, fmt.Errorf("smtpkit: address %q has no host; want host:port, such as mail.example.com:587: %w", addr, ErrInvalidArgument)
	}
	if strings.ContainsAny(addr, "\r\n\x00 ") {
		return nil, fmt.Errorf("smtpkit: address %q holds a space, CR, LF or NUL: %w", addr, ErrInvalidArgument)
	}
	return &target{p: p, opts: &p.opts, addr: net.JoinHostPort(host, port), host: host, port: port}, nil
}

// modeKey names the network path to this server: the address, and the
// proxy, local address and TLS server name when set.
func (t *target) modeKey() string {
	var b strings.Builder
	b.WriteString(t.addr)
	if t.p.proxy != "" {
		b.WriteString(" proxy=" + t.p.proxy)
	}
	if t.p.local != "" {
		b.WriteString(" local=" + t.p.local)
	}
	if name := t.p.tls.ServerName; name != "" {
		b.WriteString(" name=" + name)
	}
	return b.String()
}

func (t *target) emit(e Event) { t.p.emit(e) }

// operation bounds one whole operation by Options.Timeout.
func operation(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if limit <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, limit, ErrOperationTimeout)
}

// open opens a TCP connection, through the proxy when there is one, within
// the connect timeout, and wraps it in a Client. attempt names the Auto
// probe it serves, "" for the first connection.
func (t *target) open(ctx context.Context, attempt string) (*Client, error) {
	id := t.p.d.conns.Add(1)
	conn := Conn{ID: id, Addr: t.addr}
	t.emit(ConnectStart{Conn: conn, Proxy: t.p.proxy, Attempt: attempt})
	start := time.Now()
	dctx, cancel := context.WithTimeoutCause(ctx, t.opts.ConnectTimeout, ErrConnectTimeout)
	nc, err := t.p.dialer.DialContext(dctx, "tcp", t.addr)
	cancel()
	done := ConnectDone{Conn: conn, Proxy: t.p.proxy, Elapsed: time.Since(start)}
	if err != nil {
		err = &Error{Phase: PhaseConnect, Addr: t.addr, Err: t.connectError(ctx, dctx, err)}
		done.Err = err
	} else {
		done.Local, done.Remote = nc.LocalAddr(), nc.RemoteAddr()
	}
	t.emit(done)
	t.emit(PhaseDone{Conn: conn, Phase: PhaseConnect, Elapsed: done.Elapsed, Err: err})
	if err != nil {
		return nil, err
	}
	return t.newClient(nc, id), nil
}
