package smtpkit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/smtpkit/smtpkit/proxy"
)

// netPath makes how the Dialer reaches its servers: the dialer, through the
// proxy when there is one, and the TLS configuration, with its files read.
// It runs once, before the first connection, so that a bad setting fails
// before anything is sent.
func (p *prepared) netPath() error {
	o := &p.opts
	base := o.Dialer
	if o.LocalAddr != "" || o.BindLocal != nil {
		local, _ := ParseLocalAddr(o.LocalAddr) // Validate took it
		var addr *net.TCPAddr
		if local.IsValid() {
			addr = net.TCPAddrFromAddrPort(local)
			p.local = local.String()
			if local.Port() == 0 {
				p.local = local.Addr().String()
			}
		}
		if o.BindLocal != nil {
			p.local = "chosen"
		}
		base = &bindDialer{local: addr, bind: o.BindLocal}
	}
	p.dialer = base
	var err error
	switch {
	case o.Proxy != "":
		p.dialer, err = proxy.Config{Forward: base, HandshakeTimeout: o.GreetingTimeout}.Parse(o.Proxy)
		if err != nil {
			return &OptionError{Field: "Proxy", Err: err}
		}
		p.proxy = fmt.Sprint(p.dialer) // the dialers print their password as "xxxxx"
	case o.ProxyFromEnvironment:
		// A pointer of our own, so that telling it from a proxy dialer is a safe comparison.
		fwd := &forward{base}
		p.dialer, err = proxy.Config{Forward: fwd, HandshakeTimeout: o.GreetingTimeout}.FromEnvironment()
		if err != nil {
			return &OptionError{Field: "ProxyFromEnvironment", Value: "true", Err: err}
		}
		if p.dialer == ContextDialer(fwd) {
			p.dialer = base // no proxy for this environment
		} else {
			p.proxy = fmt.Sprint(p.dialer)
		}
	}
	p.tls, err = o.TLS.apply(o.TLSConfig, o.Logger)
	return err
}

// forward is a ContextDialer handed to package proxy to reach the proxy.
type forward struct{ ContextDialer }

// bindDialer opens TCP connections from the local address that LocalAddr
// or BindLocal chooses.
type bindDialer struct {
	local *net.TCPAddr                           // Options.LocalAddr; nil lets the system choose
	bind  func(remote *net.TCPAddr) *net.TCPAddr // Options.BindLocal, which wins over local
}

// DialContext resolves the host of addr and tries each of its addresses in
// turn, from the local address chosen for that address.
func (d *bindDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	remotes, err := resolveTCP(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	var first error
	for i, remote := range remotes {
		local := d.local
		if d.bind != nil {
			local = d.bind(remote)
		}
		if local != nil && len(local.IP) > 0 && (local.IP.To4() == nil) != (remote.IP.To4() == nil) {
			if first == nil {
				first = fmt.Errorf("cannot connect from %s to %s: one is IPv4, the other IPv6", local.IP, remote)
			}
			continue
		}
		actx, cancel := attemptContext(ctx, len(remotes)-i)
		c, err := dialFrom(actx, network, local, remote)
		cancel()
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// resolveTCP looks up the addresses of addr's host and port.
func resolveTCP(ctx context.Context, network, addr string) ([]*net.TCPAddr, error) {
	host, service, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, service)
	if err != nil {
		return nil, err
	}
	family := map[string]string{"tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := net.DefaultResolver.LookupNetIP(ctx, cmp.Or(family, "ip"), host)
	if err != nil {
		return nil, err
	}
	out := make([]*net.TCPAddr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), uint16(port))))
	}
	return out, nil
}

// attemptContext gives one of n remaining attempts its share of ctx's time,
// at least 2 seconds, as net.Dialer does.
func attemptContext(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return ctx, func() {}
	}
	share := max(time.Until(deadline)/time.Duration(n), 2*time.Second)
	return context.WithTimeout(ctx, share)
}

// dialFrom connects to remote from local (nil: any local address).
func dialFrom(ctx context.Context, network string, local, remote *net.TCPAddr) (net.Conn, error) {
	var d net.Dialer
	if local != nil {
		d.LocalAddr = local // only when set: a nil *TCPAddr in the interface is not "none"
	}
	c, err := d.DialContext(ctx, network, remote.String())
	if err != nil && local != nil {
		return nil, bindError(local, err)
	}
	return c, err
}

// bindError explains a failure to bind the socket to local, and returns
// any other error as it is.
func bindError(local *net.TCPAddr, err error) error {
	var sys *os.SyscallError
	if !errors.As(err, &sys) || sys.Syscall != "bind" {
		return err
	}
	what := local.IP.String()
	if local.Port != 0 {
		what = net.JoinHostPort(what, strconv.Itoa(local.Port))
	}
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot bind to %s: the address is not on this machine (%w)", what, sys)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot bind to %s: the port is in use, perhaps by the second connection "+
			"Auto opens; use port 0 (%w)", what, sys)
	}
	return fmt.Errorf("cannot bind to %s (%w)", what, sys)
}

// connectError explains a failed connection: the end of the operation's
// context, the connect timeout (dctx's), or err itself. A proxy's error is
// kept, so that errors.Is and errors.As still find it.
func (t *target) connectError(ctx, dctx context.Context, err error) error {
	// A socket deadline can fire before the context's timer: look at the clock too.
	timedOut := errors.Is(context.Cause(dctx), ErrConnectTimeout) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
	if deadline, ok := ctx.Deadline(); ok && timedOut && !time.Now().Before(deadline) {
		<-ctx.Done() // the operation's deadline has passed; its timer fires at once
	}
	var pe *proxy.Error
	proxied := errors.As(err, &pe)
	switch {
	case ctx.Err() != nil:
		cause := context.Cause(ctx)
		switch {
		case !proxied:
			return cause
		case errors.Is(err, cause):
			return err
		}
		return fmt.Errorf("%w: %w", cause, err)
	case timedOut && proxied:
		return fmt.Errorf("%w (%v, the proxy's handshake included): %w", ErrConnectTimeout, t.opts.ConnectTimeout, err)
	case timedOut:
		return fmt.Errorf("%w (%v)", ErrConnectTimeout, t.opts.ConnectTimeout)
	}
	return err
}
