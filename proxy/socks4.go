package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
)

// SOCKS4 dials through a SOCKS4 proxy, or a SOCKS4a proxy when RemoteResolve
// is set. Addr must be set; every other field's zero value is usable.
//
// SOCKS4 and SOCKS4a have no HandshakeTimeout: the proxy's only reply comes
// after it has tried to reach the target, so the context limits all of it.
type SOCKS4 struct {
	// Addr is the proxy's host:port.
	Addr string
	// UserID fills the request's user ID field; some proxies check it with identd.
	UserID string
	// RemoteResolve sends target host names for the proxy to resolve (SOCKS4a).
	// When false, names are resolved here to an IPv4 address (SOCKS4).
	RemoteResolve bool
	// Resolver resolves target names when RemoteResolve is false; nil means net.DefaultResolver.
	Resolver Resolver
	// Forward reaches the proxy; nil means a net.Dialer.
	Forward ContextDialer
}

// The reply codes of a SOCKS4 proxy, the second byte of its reply.
const (
	socks4Granted        = 0x5A
	socks4Rejected       = 0x5B
	socks4IdentdUnreach  = 0x5C
	socks4IdentdMismatch = 0x5D
)

// DialContext connects to addr through the proxy; ctx limits the connection
// to the proxy and the whole handshake.
func (d *SOCKS4) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := d.check(); err != nil {
		return nil, d.fail(addr, "request", 0, err)
	}
	host, port, err := splitTarget(network, addr)
	if err != nil {
		return nil, d.fail(addr, "request", 0, err)
	}
	if network == "tcp6" {
		return nil, d.fail(addr, "request", 0, invalidf("SOCKS4 carries only IPv4: use a SOCKS5 proxy for tcp6"))
	}
	ip, name, err := d.destination(ctx, host)
	if err != nil {
		return nil, d.fail(addr, "resolve", 0, err)
	}
	req := socks4Request(ip, port, d.UserID, name)

	conn, err := dial(ctx, d.Forward, d.Addr)
	if err != nil {
		return nil, d.fail(addr, "dial", 0, err)
	}
	var code int
	err = withContext(ctx, conn, func() error {
		if _, err := conn.Write(req); err != nil {
			return err
		}
		reply := make([]byte, 8)
		if err := readFull(conn, reply); err != nil {
			return err
		}
		code, err = parseSOCKS4Reply(reply)
		return err
	})
	if err != nil {
		conn.Close()
		return nil, d.fail(addr, "handshake", code, err)
	}
	return conn, nil
}

// String returns the proxy as a URL, such as "socks4a://userid@proxy.example:1080".
func (d SOCKS4) String() string {
	u := url.URL{Scheme: d.protocol(), Host: d.Addr}
	if d.UserID != "" {
		u.User = url.User(d.UserID)
	}
	return u.String()
}

// GoString is String for %#v, so that no format prints the password.
func (d SOCKS4) GoString() string { return "proxy.SOCKS4(" + strconv.Quote(d.String()) + ")" }

// LogValue is String for log/slog, so that no log shows the password.
func (d SOCKS4) LogValue() slog.Value { return slog.StringValue(d.String()) }

// protocol returns "socks4a" when the proxy resolves names, "socks4" otherwise.
func (d *SOCKS4) protocol() string {
	if d.RemoteResolve {
		return "socks4a"
	}
	return "socks4"
}

// fail makes the Error for a failed dial to target.
func (d *SOCKS4) fail(target, op string, code int, err error) error {
	return newError(d.protocol(), d.Addr, target, op, code, err)
}

// check validates the fields that do not depend on the target.
func (d *SOCKS4) check() error {
	if err := checkProxyAddr(d.Addr); err != nil {
		return err
	}
	if hasControl(d.UserID) {
		return invalidf("the user ID holds CR, LF, NUL or another control character")
	}
	if len(d.UserID) > maxNameLength {
		return invalidf("the user ID is longer than %d bytes", maxNameLength)
	}
	return nil
}

// destination returns the IPv4 address to put in the request and, for
// SOCKS4a, the host name to send after it.
func (d *SOCKS4) destination(ctx context.Context, host string) (netip.Addr, string, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().Is4() {
			return netip.Addr{}, "", invalidf("SOCKS4 cannot carry the IPv6 address %s: use a SOCKS5 proxy", host)
		}
		return ip.Unmap(), "", nil
	}
	if d.RemoteResolve {
		// SOCKS4a: the address 0.0.0.x with x nonzero says "the name follows".
		return netip.AddrFrom4([4]byte{0, 0, 0, 1}), host, nil
	}
	ip, err := resolve(ctx, d.Resolver, "tcp4", host)
	var wrongFamily *wrongFamilyError
	if errors.As(err, &wrongFamily) {
		return netip.Addr{}, "", fmt.Errorf("%w: SOCKS4 carries only IPv4 "+
			"(use socks4a:// so the proxy resolves the name, or a SOCKS5 proxy)", err)
	}
	return ip, "", err
}

// socks4Request builds a CONNECT request: version 4, command 1, port, IPv4
// address, user ID and NUL, then for SOCKS4a the host name and NUL.
func socks4Request(ip netip.Addr, port uint16, userID, name string) []byte {
	ip4 := ip.As4()
	req := []byte{4, 1, byte(port >> 8), byte(port)}
	req = append(req, ip4[:]...)
	req = append(req, userID...)
	req = append(req, 0)
	if name != "" {
		req = append(req, name...)
		req = append(req, 0)
	}
	return req
}

// parseSOCKS4Reply reads the proxy's 8-byte reply and returns its code, with
// an error saying in words why the request failed unless it was granted.
func parseSOCKS4Reply(reply []byte) (code int, err error) {
	if len(reply) != 8 {
		return 0, fmt.Errorf("%w: the reply is %d bytes, not 8", ErrProtocol, len(reply))
	}
	if reply[0] != 0 {
		if reply[0] == 'H' {
			return 0, fmt.Errorf("%w: the reply looks like HTTP, not SOCKS4: use an http:// proxy URL", ErrProtocol)
		}
		return 0, fmt.Errorf("%w: the reply starts with version %d, not 0: is this a SOCKS4 proxy?", ErrProtocol, reply[0])
	}
	code = int(reply[1])
	switch code {
	case socks4Granted:
		return code, nil
	case socks4Rejected:
		return code, fmt.Errorf("%w: request rejected or failed (SOCKS4 reply 0x5B): "+
			"the proxy's rules may forbid the target, or the proxy cannot reach it", ErrRefused)
	case socks4IdentdUnreach:
		return code, fmt.Errorf("%w: the proxy could not reach identd on this host to check the user ID "+
			"(SOCKS4 reply 0x5C)", ErrAuthFailed)
	case socks4IdentdMismatch:
		return code, fmt.Errorf("%w: identd on this host reports a user other than the user ID sent "+
			"(SOCKS4 reply 0x5D): set the user ID to the local user name", ErrAuthFailed)
	default:
		return code, fmt.Errorf("%w: unknown SOCKS4 reply code 0x%02X", ErrProtocol, code)
	}
}
