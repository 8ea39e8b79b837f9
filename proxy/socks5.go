package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	xproxy "golang.org/x/net/proxy"
)

// SOCKS5 dials through a SOCKS5 proxy (RFC 1928), with username and password
// authentication (RFC 1929) when Username is set. Addr must be set; every
// other field's zero value is usable. The handshake itself is done by
// golang.org/x/net/proxy.
type SOCKS5 struct {
	// Addr is the proxy's host:port.
	Addr string
	// Username and Password are offered to the proxy when Username is set; each is at most 255 bytes.
	Username, Password string
	// RemoteResolve sends target host names for the proxy to resolve ("socks5h").
	// When false, names are resolved here and the proxy is sent an address ("socks5").
	RemoteResolve bool
	// Resolver resolves target names when RemoteResolve is false; nil means net.DefaultResolver.
	Resolver Resolver
	// Forward reaches the proxy; nil means a net.Dialer.
	Forward ContextDialer
	// HandshakeTimeout limits the part of the handshake that involves only
	// the proxy: from the connection to the proxy until its choice of
	// authentication method and, when it chose username and password, its
	// answer to them. Zero means DefaultHandshakeTimeout. The CONNECT reply,
	// which waits for the proxy to reach the target, is limited only by the
	// context.
	HandshakeTimeout time.Duration
}

// The SOCKS5 authentication methods this package offers, and the proxy's
// answer when it accepts none of them (RFC 1928 section 3).
const (
	socks5NoAuth       = 0x00
	socks5UserPass     = 0x02
	socks5NoAcceptable = 0xFF
)

// maxSOCKS5Reply is the most a proxy sends during the handshake: method
// choice (2), authentication status (2), reply header (4), longest bound
// address (1+255) and port (2).
const maxSOCKS5Reply = 2 + 2 + 4 + 1 + 255 + 2

// DialContext connects to addr through the proxy; ctx limits the connection
// to the proxy and the whole handshake, and HandshakeTimeout the proxy's
// first replies.
func (d *SOCKS5) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := d.check(); err != nil {
		return nil, d.fail(addr, "request", 0, err)
	}
	host, port, err := splitTarget(network, addr)
	if err != nil {
		return nil, d.fail(addr, "request", 0, err)
	}
	target := addr
	if _, err := netip.ParseAddr(host); err != nil && !d.RemoteResolve {
		// x/net sends host names as they are: resolve here for "socks5".
		ip, err := resolve(ctx, d.Resolver, network, host)
		if err != nil {
			return nil, d.fail(addr, "resolve", 0, err)
		}
		target = net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
	}

	var auth *xproxy.Auth
	if d.Username != "" {
		auth = &xproxy.Auth{User: d.Username, Password: d.Password}
	}
	limit := handshakeLimit(d.HandshakeTimeout)
	rec := &recordingDialer{forward: d.Forward, withAuth: auth != nil, limit: limit}
	xd, err := xproxy.SOCKS5("tcp", d.Addr, auth, rec)
	if err != nil {
		return nil, d.fail(addr, "request", 0, err)
	}
	cd, ok := xd.(xproxy.ContextDialer)
	if !ok {
		return nil, d.fail(addr, "request", 0, errors.New("golang.org/x/net/proxy's SOCKS5 dialer has no DialContext"))
	}
	if _, err := cd.DialContext(ctx, network, target); err != nil {
		if rec.conn == nil {
			return nil, d.fail(addr, "dial", 0, contextError(ctx, unwrapSOCKS(err), "connecting to the proxy"))
		}
		code, cause := socks5ReplyError(rec.conn.got, auth != nil)
		switch {
		case cause != nil:
		case rec.conn.timedOut():
			cause = rec.conn.timeoutError(limit)
		default:
			cause = unwrapSOCKS(err)
			if closedEarly(cause) {
				cause = errClosedEarly
			}
		}
		return nil, d.fail(addr, "handshake", code, contextError(ctx, cause, "waiting for the proxy's reply"))
	}
	// The handshake is over: hand out the connection itself, without the recorder.
	return rec.conn.Conn, nil
}

// String returns the proxy as a URL with the password hidden, such as
// "socks5h://alice:xxxxx@proxy.example:1080".
func (d SOCKS5) String() string {
	u := url.URL{Scheme: d.protocol(), Host: d.Addr}
	if d.Username != "" {
		u.User = url.UserPassword(d.Username, d.Password)
	}
	return u.Redacted()
}

// GoString is String for %#v, so that no format prints the password.
func (d SOCKS5) GoString() string { return "proxy.SOCKS5(" + strconv.Quote(d.String()) + ")" }

// LogValue is String for log/slog, so that no log shows the password.
func (d SOCKS5) LogValue() slog.Value { return slog.StringValue(d.String()) }

// protocol returns "socks5h" when the proxy resolves names, "socks5" otherwise.
func (d *SOCKS5) protocol() string {
	if d.RemoteResolve {
		return "socks5h"
	}
	return "socks5"
}

// fail makes the Error for a failed dial to target.
func (d *SOCKS5) fail(target, op string, code int, err error) error {
	return newError(d.protocol(), d.Addr, target, op, code, err)
}

// check validates the fields that do not depend on the target.
func (d *SOCKS5) check() error {
	if err := checkProxyAddr(d.Addr); err != nil {
		return err
	}
	if d.Username == "" && d.Password != "" {
		return invalidf("a password is set but the username is empty")
	}
	if hasControl(d.Username) || hasControl(d.Password) {
		return invalidf("the username or password holds CR, LF, NUL or another control character")
	}
	if len(d.Username) > maxNameLength || len(d.Password) > maxNameLength {
		return invalidf("the username or password is longer than %d bytes, the SOCKS5 limit", maxNameLength)
	}
	return checkHandshakeTimeout(d.HandshakeTimeout)
}

// socks5ReplyError explains a failed handshake from the bytes the proxy sent
// (RFC 1928 and 1929): it returns the reply code and an error wrapping a
// sentinel, or a nil error when those bytes show nothing wrong.
// withAuth says whether username and password authentication was offered.
func socks5ReplyError(got []byte, withAuth bool) (code int, err error) {
	if len(got) < 2 {
		return 0, nil
	}
	if got[0] != 5 {
		if got[0] == 'H' {
			return 0, fmt.Errorf("%w: the reply looks like HTTP, not SOCKS5: use an http:// proxy URL", ErrProtocol)
		}
		return 0, fmt.Errorf("%w: the reply starts with version %d, not 5: is this a SOCKS5 proxy?", ErrProtocol, got[0])
	}
	method := got[1]
	switch {
	case method == socks5NoAcceptable && withAuth:
		return 0, fmt.Errorf("%w: the proxy accepts neither no authentication nor username and password", ErrAuthFailed)
	case method == socks5NoAcceptable:
		return 0, fmt.Errorf("%w: the proxy accepts no connection without authentication: "+
			"put user:password in the proxy URL, or set Username and Password", ErrAuthRequired)
	case method == socks5UserPass && !withAuth:
		return 0, fmt.Errorf("%w: the proxy asks for a username and password: "+
			"put user:password in the proxy URL, or set Username and Password", ErrAuthRequired)
	case method != socks5NoAuth && method != socks5UserPass:
		return 0, fmt.Errorf("%w: the proxy chose authentication method %d, which was not offered", ErrProtocol, method)
	}
	rest := got[2:]
	if method == socks5UserPass {
		if len(rest) < 2 {
			return 0, nil
		}
		if rest[0] != 1 {
			return 0, fmt.Errorf("%w: the authentication reply has version %d, not 1", ErrProtocol, rest[0])
		}
		if rest[1] != 0 {
			return 0, fmt.Errorf("%w: username and password refused (RFC 1929 status %d): check them", ErrAuthFailed, rest[1])
		}
		rest = rest[2:]
	}
	if len(rest) < 4 {
		return 0, nil
	}
	if rest[0] != 5 {
		return 0, fmt.Errorf("%w: the CONNECT reply has version %d, not 5", ErrProtocol, rest[0])
	}
	if code := int(rest[1]); code != 0 {
		return code, fmt.Errorf("%w: %s (SOCKS5 reply %d)", ErrRefused, socks5Reason(code), code)
	}
	if rest[2] != 0 {
		return 0, fmt.Errorf("%w: the reserved byte of the CONNECT reply is %d, not 0", ErrProtocol, rest[2])
	}
	switch rest[3] {
	case 1, 3, 4: // IPv4, domain name, IPv6
	default:
		return 0, fmt.Errorf("%w: the CONNECT reply has unknown address type %d", ErrProtocol, rest[3])
	}
	return 0, nil
}

// socks5Reason says in words what a SOCKS5 reply code means (RFC 1928 section 6).
func socks5Reason(code int) string {
	switch code {
	case 1:
		return "general SOCKS server failure"
	case 2:
		return "connection not allowed by the proxy's rules"
	case 3:
		return "network unreachable from the proxy"
	case 4:
		return "host unreachable from the proxy"
	case 5:
		return "the target refused the connection"
	case 6:
		return "TTL expired on the way to the target"
	case 7:
		return "the proxy does not support CONNECT"
	case 8:
		return "the proxy does not support this address type (try socks5h:// or socks5://)"
	default:
		return "unassigned failure code"
	}
}

// unwrapSOCKS removes the *net.OpError golang.org/x/net/proxy wraps its errors
// in: the Error around it already names the proxy and the target.
func unwrapSOCKS(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) && strings.HasPrefix(opErr.Op, "socks") {
		return opErr.Err
	}
	return err
}

// recordingDialer reaches the proxy through forward and wraps the
// connection in a recordingConn.
type recordingDialer struct {
	forward  ContextDialer
	withAuth bool           // username and password are offered
	limit    time.Duration  // the handshake limit
	conn     *recordingConn // set once the proxy is reached
}

// DialContext dials the proxy and wraps the connection in a recordingConn
// whose handshake limit starts now.
func (r *recordingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := dial(ctx, r.forward, addr)
	if err != nil {
		return nil, err
	}
	r.conn = newRecordingConn(conn, r.withAuth, time.Now().Add(r.limit))
	return r.conn, nil
}

// Dial is DialContext without a context; golang.org/x/net/proxy asks for it
// but calls DialContext.
func (r *recordingDialer) Dial(network, addr string) (net.Conn, error) {
	return r.DialContext(context.Background(), network, addr)
}

// recordingConn is the connection to a SOCKS5 proxy during the handshake
// golang.org/x/net/proxy does over it. It keeps the first maxSOCKS5Reply
// bytes it reads, so that a failure can be explained, and it holds reads to
// the handshake limit until the proxy's own replies (method choice, then
// authentication status when username and password were chosen) are in.
//
// golang.org/x/net/proxy sets the context's deadline on the connection, and
// a deadline in the past when the context is cancelled, from another
// goroutine: SetDeadline and SetReadDeadline record that deadline and apply
// the earlier of it and the limit, so cancellation interrupts every phase.
type recordingConn struct {
	net.Conn
	withAuth bool
	got      []byte

	mu     sync.Mutex
	read   time.Time // the read deadline asked for through SetDeadline or SetReadDeadline
	limit  time.Time // the end of the handshake limit; zero once the proxy's own replies are in
	waited int       // the bytes read when the limit passed; -1 while it has not
}

// newRecordingConn wraps conn, whose handshake limit ends at limit.
func newRecordingConn(conn net.Conn, withAuth bool, limit time.Time) *recordingConn {
	c := &recordingConn{Conn: conn, withAuth: withAuth, limit: limit, waited: -1}
	conn.SetReadDeadline(limit)
	return c
}

// Read reads the connection, records what it read, and lifts the handshake
// limit once the proxy's own replies are in.
func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if len(c.got)+n <= maxSOCKS5Reply {
		c.got = append(c.got, p[:n]...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.limit.IsZero():
	case errors.Is(err, os.ErrDeadlineExceeded) && c.limitApplies():
		// The limit was the deadline in force: no earlier deadline, no cancellation.
		c.waited = len(c.got)
	case c.proxyRepliesIn():
		c.limit = time.Time{}
		if dlErr := c.Conn.SetReadDeadline(c.read); dlErr != nil && err == nil {
			err = dlErr
		}
	}
	return n, err
}

// SetDeadline sets the write deadline to t, and the read deadline to t or
// the handshake limit, whichever comes first.
func (c *recordingConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read = t
	werr := c.Conn.SetWriteDeadline(t)
	if err := c.Conn.SetReadDeadline(c.readDeadline()); err != nil {
		return err
	}
	return werr
}

// SetReadDeadline sets the read deadline to t or the handshake limit,
// whichever comes first.
func (c *recordingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read = t
	return c.Conn.SetReadDeadline(c.readDeadline())
}

// readDeadline returns the read deadline to apply; c.mu is held.
func (c *recordingConn) readDeadline() time.Time {
	if c.limitApplies() {
		return c.limit
	}
	return c.read
}

// limitApplies reports whether the handshake limit is the read deadline in
// force: it has not been lifted, and comes before any deadline asked for.
// c.mu is held.
func (c *recordingConn) limitApplies() bool {
	return !c.limit.IsZero() && (c.read.IsZero() || c.limit.Before(c.read))
}

// proxyRepliesIn reports whether the replies that involve only the proxy
// have been read: the method choice, and the authentication status when the
// proxy chose username and password and they were offered. c.mu is held.
func (c *recordingConn) proxyRepliesIn() bool {
	if len(c.got) < 2 {
		return false
	}
	if c.withAuth && c.got[1] == socks5UserPass {
		return len(c.got) >= 4
	}
	return true
}

// timedOut reports whether a read failed because the handshake limit passed.
func (c *recordingConn) timedOut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waited >= 0
}

// timeoutError explains which of the proxy's replies did not come in time.
func (c *recordingConn) timeoutError(limit time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waited >= 2 {
		return handshakeTimeoutError(limit, "its answer to the username and password",
			"check the proxy's authentication service and load")
	}
	return handshakeTimeoutError(limit, "its choice of authentication method",
		"check that the address is a SOCKS5 proxy's port (not another service, "+
			"or a firewall that accepts and stays silent) and that the proxy is not overloaded")
}
