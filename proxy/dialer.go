package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ContextDialer opens network connections: *net.Dialer, every dialer of this
// package and golang.org/x/net/proxy's ContextDialer satisfy it.
type ContextDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Resolver looks up the addresses of a host name; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// maxNameLength is the longest host name, user ID or SOCKS5 credential accepted:
// SOCKS5 has one length byte for each, and no real name is longer.
const maxNameLength = 255

// dial reaches the proxy at addr through forward, or a net.Dialer when forward is nil.
func dial(ctx context.Context, forward ContextDialer, addr string) (net.Conn, error) {
	if forward == nil {
		forward = &net.Dialer{}
	}
	conn, err := forward.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, contextError(ctx, err, "connecting to the proxy")
	}
	return conn, nil
}

// checkProxyAddr makes sure addr is a proxy's host:port.
func checkProxyAddr(addr string) error {
	if addr == "" {
		return invalidf("the proxy address is empty: set Addr to the proxy's host:port")
	}
	if strings.ContainsAny(addr, "@/") {
		return invalidf("the proxy address must be host:port, without scheme or credentials " +
			"(use Parse for a URL, or the dialer's credential fields)")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return invalidf("the proxy address %q is not host:port", addr)
	}
	return nil
}

// splitTarget checks that the caller asked for TCP to host:port and returns both parts.
func splitTarget(network, addr string) (host string, port uint16, err error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return "", 0, invalidf("network %q cannot go through a proxy: use tcp, tcp4 or tcp6", network)
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, invalidf("the target %q is not host:port", addr)
	}
	if host == "" {
		return "", 0, invalidf("the target %q has no host", addr)
	}
	if hasControl(host) || strings.Contains(host, " ") {
		return "", 0, invalidf("the target host holds a space, CR, LF, NUL or another control character")
	}
	if len(host) > maxNameLength {
		return "", 0, invalidf("the target host is longer than %d bytes", maxNameLength)
	}
	n, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || n == 0 {
		return "", 0, invalidf("the target port %q is not a number from 1 to 65535", portText)
	}
	return host, uint16(n), nil
}

// hasControl reports whether s holds an ASCII control character such as CR, LF or NUL.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// resolve looks host up and returns its first address of the family network
// asks for: IPv4 for "tcp4", IPv6 for "tcp6", either for "tcp".
func resolve(ctx context.Context, r Resolver, network, host string) (netip.Addr, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, contextError(ctx, err, "resolving the target")
	}
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case network == "tcp4" && a.Is4(), network == "tcp6" && a.Is6(), network == "tcp":
			return a, nil
		}
	}
	switch {
	case len(addrs) == 0:
		return netip.Addr{}, fmt.Errorf("%q has no addresses", host)
	case network == "tcp4":
		return netip.Addr{}, &wrongFamilyError{host: host, has: "IPv6"}
	default:
		return netip.Addr{}, &wrongFamilyError{host: host, has: "IPv4"}
	}
}

// wrongFamilyError says that a name has addresses, but none of the family asked for.
type wrongFamilyError struct {
	host string // the name looked up
	has  string // the family it has: "IPv4" or "IPv6"
}

func (e *wrongFamilyError) Error() string {
	return fmt.Sprintf("%q has only %s addresses", e.host, e.has)
}

// aLongTimeAgo is a deadline in the past: setting it interrupts blocked reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// withContext runs step, which talks to the proxy over conn, so that the end
// of ctx interrupts any read or write blocked inside it. It returns ctx's
// error when ctx ended during the step, whatever the step returned: the
// connection's deadline is then in the past and it must be closed.
func withContext(ctx context.Context, conn net.Conn, step func() error) error {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	err := step()
	if !stop() {
		return contextError(ctx, err, "waiting for the proxy's reply")
	}
	return err
}

// contextError returns err, or ctx's error when ctx has ended: the caller
// needs to see the cancellation or the deadline, not the i/o error it caused.
// A socket timeout at or after ctx's deadline counts as the deadline, even
// if ctx has not noticed yet (golang.org/x/net/proxy sets it on the socket).
func contextError(ctx context.Context, err error, during string) error {
	ctxErr := ctx.Err()
	if deadline, ok := ctx.Deadline(); ok && ctxErr == nil &&
		errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline) {
		ctxErr = context.DeadlineExceeded
	}
	if ctxErr == nil || errors.Is(err, ctxErr) {
		return err
	}
	return fmt.Errorf("%w while %s", ctxErr, during)
}

// readFull reads exactly len(buf) bytes of the proxy's reply.
func readFull(r io.Reader, buf []byte) error {
	_, err := io.ReadFull(r, buf)
	if closedEarly(err) {
		return errClosedEarly
	}
	return err
}

// closedEarly reports whether err means the proxy hung up: an end of file,
// or a reset when it closed with our request still unread.
func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
