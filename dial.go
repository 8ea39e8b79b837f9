package smtpkit

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// target is the server a Dial reaches and the options it reaches it with.
type target struct {
	addr string // host:port
	host string
	port string
	opts Options

	transcript *transcript
	traceMu    sync.Mutex // serialises Trace calls from racing connections
	conns      int        // connections opened so far, under traceMu

	pathOnce sync.Once // makes path before the first connection
	path     *netPath
	pathErr  error
}

// Dial connects to the SMTP server at addr ("host:port") and sets up the
// session: TLS as opts.Security asks, the greeting, EHLO (or HELO) and the
// capabilities. A nil opts means the zero Options. When addr has no port,
// 465 is used for SecurityImplicitTLS and 587 (submission) otherwise.
//
// The context bounds the whole call; cancelling it interrupts any step at once.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := newTarget(addr, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := t.operation(ctx)
	defer cancel()
	var c *Client
	switch o.Security {
	case SecurityImplicitTLS:
		c, err = t.dialImplicitTLS(ctx)
	case SecurityAuto, SecurityTLSAuto:
		c, err = t.dialAuto(ctx)
	default:
		c, err = t.dialPlainFirst(ctx, o.Security)
	}
	if err != nil {
		return nil, err
	}
	if o.Auth != nil {
		if err := c.Login(ctx, o.Auth); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func newTarget(addr string, o Options) (*target, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: pick the one the mode is normally served on.
		host, port = addr, "587"
		if o.Security == SecurityImplicitTLS {
			port = "465"
		}
		if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
			host = host[1 : len(host)-1]
		}
	}
	if host == "" {
		return nil, fmt.Errorf("smtpkit: address %q has no host; want host:port, such as mail.example.com:587", addr)
	}
	if err := checkArg("address", addr); err != nil {
		return nil, err
	}
	return &target{
		addr:       net.JoinHostPort(host, port),
		host:       host,
		port:       port,
		opts:       o,
		transcript: &transcript{w: o.Transcript},
	}, nil
}

// operation bounds one whole operation by Options.Timeout.
func (t *target) operation(ctx context.Context) (context.Context, context.CancelFunc) {
	return operation(ctx, t.opts.Timeout)
}

func operation(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if limit <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, limit, ErrOperationTimeout)
}

// open opens a TCP connection, through the proxy when there is one, within
// the connect timeout, and wraps it in a Client.
func (t *target) open(ctx context.Context) (*Client, error) {
	path, err := t.netPath()
	if err != nil {
		return nil, err
	}
	t.traceMu.Lock()
	t.conns++
	n := t.conns
	t.traceMu.Unlock()
	if path.proxy != "" {
		t.transcript.event("connecting to %s through the proxy %s", t.addr, path.proxy)
	}
	start := time.Now()
	dctx, cancel := context.WithTimeoutCause(ctx, t.opts.ConnectTimeout, ErrConnectTimeout)
	nc, err := path.dialer.DialContext(dctx, "tcp", t.addr)
	cancel()
	if err != nil {
		err = &Error{Phase: PhaseConnect, Addr: t.addr, Err: t.connectError(ctx, dctx, err)}
	}
	t.traceDone(PhaseConnect, n, start, err)
	if err != nil {
		return nil, err
	}
	return t.newClient(nc, n), nil
}

func (t *target) traceDone(p Phase, conn int, start time.Time, err error) {
	if tr := t.opts.Trace; tr != nil && tr.PhaseDone != nil {
		t.traceMu.Lock()
		defer t.traceMu.Unlock()
		tr.PhaseDone(TraceEvent{Phase: p, Conn: conn, Elapsed: time.Since(start), Err: err})
	}
}
