package proxy

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// HTTP dials through an HTTP proxy with the CONNECT method, or through an
// HTTPS proxy (TLS to the proxy itself, CONNECT inside it) when TLS is set.
// Addr must be set; every other field's zero value is usable.
type HTTP struct {
	// Addr is the proxy's host:port.
	Addr string
	// Username and Password are sent as Basic credentials (Proxy-Authorization) when Username is set.
	Username, Password string
	// TLS, when set, makes this an HTTPS proxy: the connection to the proxy
	// is TLS with this configuration. ServerName defaults to the host of
	// Addr. It is cloned, never modified.
	TLS *tls.Config
	// Header holds extra header fields for the CONNECT request, such as
	// User-Agent, or Proxy-Authorization for a scheme other than Basic (with
	// Username empty). Host is always the target and cannot be set here.
	Header http.Header
	// Forward reaches the proxy; nil means a net.Dialer.
	Forward ContextDialer
	// HandshakeTimeout limits the TLS handshake with an HTTPS proxy, which
	// involves only the proxy; zero means DefaultHandshakeTimeout. A plain
	// HTTP proxy has no such step: its first reply is the CONNECT reply,
	// which waits for the proxy to reach the target and is limited only by
	// the context.
	HandshakeTimeout time.Duration
}

// DialContext connects to addr through the proxy; ctx limits the connection
// to the proxy, the TLS handshake with an HTTPS proxy (which HandshakeTimeout
// limits too) and the CONNECT exchange. Bytes the proxy sends right after its
// reply are read first from the returned connection.
func (d *HTTP) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	req, sentCredentials, err := d.request(network, addr)
	if err != nil {
		return nil, d.fail(addr, "request", 0, err)
	}
	conn, err := dial(ctx, d.Forward, d.Addr)
	if err != nil {
		return nil, d.fail(addr, "dial", 0, err)
	}
	if d.TLS != nil {
		tlsConn, err := d.handshake(ctx, conn)
		if err != nil {
			conn.Close()
			return nil, d.fail(addr, "tls", 0, err)
		}
		conn = tlsConn
	}

	var reply *httpReply
	var rest []byte
	err = withContext(ctx, conn, func() error {
		if _, err := conn.Write(req); err != nil {
			return err
		}
		reply, rest, err = readHTTPReply(conn)
		return err
	})
	if err != nil {
		conn.Close()
		return nil, d.fail(addr, "handshake", 0, err)
	}
	if err := httpStatusError(reply, sentCredentials); err != nil {
		conn.Close()
		return nil, d.fail(addr, "handshake", reply.status, err)
	}
	if len(rest) > 0 {
		return &prefixConn{Conn: conn, pending: rest}, nil
	}
	return conn, nil
}

// String returns the proxy as a URL with the password hidden, such as
// "https://alice:xxxxx@proxy.example:443".
func (d HTTP) String() string {
	u := url.URL{Scheme: d.protocol(), Host: d.Addr}
	if d.Username != "" {
		u.User = url.UserPassword(d.Username, d.Password)
	}
	return u.Redacted()
}

// GoString is String for %#v, so that no format prints the password.
func (d HTTP) GoString() string { return "proxy.HTTP(" + strconv.Quote(d.String()) + ")" }

// LogValue is String for log/slog, so that no log shows the password.
func (d HTTP) LogValue() slog.Value { return slog.StringValue(d.String()) }

// protocol returns "https" for a proxy reached over TLS, "http" otherwise.
func (d *HTTP) protocol() string {
	if d.TLS != nil {
		return "https"
	}
	return "http"
}

// fail makes the Error for a failed dial to target.
func (d *HTTP) fail(target, op string, code int, err error) error {
	return newError(d.protocol(), d.Addr, target, op, code, err)
}

// check validates the fields that do not depend on the target, and reports
// whether credentials will be sent.
func (d *HTTP) check() (sentCredentials bool, err error) {
	if err := checkProxyAddr(d.Addr); err != nil {
		return false, err
	}
	if d.Username == "" && d.Password != "" {
		return false, invalidf("a password is set but the username is empty")
	}
	if strings.Contains(d.Username, ":") {
		return false, invalidf("the username holds a colon, which Basic authentication cannot carry")
	}
	if hasControl(d.Username) || hasControl(d.Password) {
		return false, invalidf("the username or password holds CR, LF, NUL or another control character")
	}
	if err := checkHandshakeTimeout(d.HandshakeTimeout); err != nil {
		return false, err
	}
	sentCredentials = d.Username != ""
	for name, values := range d.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return false, invalidf("the header field name %q is not a valid token", name)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host":
			return false, invalidf("Header cannot set Host: it is always the target")
		case "Proxy-Authorization":
			if d.Username != "" {
				return false, invalidf("Header holds Proxy-Authorization and Username is set: use one or the other")
			}
			sentCredentials = true
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false, invalidf("the header field %s holds CR, LF, NUL or another control character", name)
			}
		}
	}
	return sentCredentials, nil
}

// request builds the CONNECT request for addr and reports whether it carries credentials.
func (d *HTTP) request(network, addr string) (req []byte, sentCredentials bool, err error) {
	sentCredentials, err = d.check()
	if err != nil {
		return nil, false, err
	}
	host, port, err := splitTarget(network, addr)
	if err != nil {
		return nil, false, err
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(port)))

	var b strings.Builder
	b.WriteString("CONNECT " + target + " HTTP/1.1\r\n")
	b.WriteString("Host: " + target + "\r\n")
	if d.Username != "" {
		login := base64.StdEncoding.EncodeToString([]byte(d.Username + ":" + d.Password))
		b.WriteString("Proxy-Authorization: Basic " + login + "\r\n")
	}
	for _, name := range slices.Sorted(maps.Keys(d.Header)) {
		for _, v := range d.Header[name] {
			b.WriteString(name + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return []byte(b.String()), sentCredentials, nil
}

// errTLSLimit is the cause of the context that ends when an HTTPS proxy's
// TLS handshake has taken HandshakeTimeout.
var errTLSLimit = errors.New("the TLS handshake with the proxy took longer than HandshakeTimeout")

// handshake does the TLS handshake with an HTTPS proxy over conn, within
// HandshakeTimeout and ctx.
func (d *HTTP) handshake(ctx context.Context, conn net.Conn) (*tls.Conn, error) {
	limit := handshakeLimit(d.HandshakeTimeout)
	hctx, cancel := context.WithTimeoutCause(ctx, limit, errTLSLimit)
	defer cancel()
	tlsConn := tls.Client(conn, d.tlsConfig())
	err := tlsConn.HandshakeContext(hctx)
	switch {
	case err == nil:
		return tlsConn, nil
	case ctx.Err() == nil && errors.Is(context.Cause(hctx), errTLSLimit):
		return nil, handshakeTimeoutError(limit, "the TLS handshake",
			"check that the proxy speaks TLS on this port (an http:// proxy does not), "+
				"that nothing between accepts and stays silent, and that the proxy is not overloaded")
	}
	return nil, contextError(ctx, err, "in the TLS handshake with the proxy")
}

// tlsConfig returns a copy of TLS whose ServerName defaults to the proxy's host.
func (d *HTTP) tlsConfig() *tls.Config {
	cfg := d.TLS.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(d.Addr)
	}
	return cfg
}
