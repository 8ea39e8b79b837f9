package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// The port used when a proxy URL names none.
const (
	defaultSOCKSPort = "1080"
	defaultHTTPPort  = "8080"
	defaultHTTPSPort = "443"
)

// FromURL returns a dialer for the proxy u names, reaching it through
// forward (a net.Dialer when nil). The schemes are:
//
//	socks4://userid@host:port          *SOCKS4, names resolved here to IPv4
//	socks4a://userid@host:port         *SOCKS4 with RemoteResolve: the proxy resolves names
//	socks5://user:password@host:port   *SOCKS5, names resolved here
//	socks5h://user:password@host:port  *SOCKS5 with RemoteResolve: the proxy resolves names
//	http://user:password@host:port     *HTTP: CONNECT, with Basic credentials
//	https://user:password@host:port    *HTTP with TLS to the proxy
//
// The port defaults to 1080 for the SOCKS schemes, 8080 for http and 443 for
// https. Credentials are optional and percent-decoded; SOCKS4 has a user ID
// and no password. Errors never repeat the password. Config.FromURL does the
// same with more settings.
func FromURL(u *url.URL, forward ContextDialer) (ContextDialer, error) {
	return Config{Forward: forward}.FromURL(u)
}

// FromURL is the package's FromURL with c's settings.
func (c Config) FromURL(u *url.URL) (ContextDialer, error) {
	if u == nil {
		return nil, invalidf("the proxy URL is nil")
	}
	d, err := c.fromURL(u)
	if err != nil {
		return nil, fmt.Errorf("proxy URL %s: %w", quote(u.Redacted()), err)
	}
	return d, nil
}

// Parse parses rawURL and returns FromURL's dialer for it. Errors never
// repeat the password. Config.Parse does the same with more settings.
func Parse(rawURL string, forward ContextDialer) (ContextDialer, error) {
	return Config{Forward: forward}.Parse(rawURL)
}

// Parse is the package's Parse with c's settings.
func (c Config) Parse(rawURL string) (ContextDialer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error repeats the whole URL, password included: keep only its reason.
		reason := "it cannot be parsed"
		var urlErr *url.Error
		var escapeErr url.EscapeError
		switch {
		case errors.As(err, &escapeErr):
			reason = "a %-escape is malformed (write a literal % as %25)"
		case errors.As(err, &urlErr):
			reason = urlErr.Err.Error()
		}
		return nil, invalidf("the proxy URL cannot be parsed: %s", reason)
	}
	return c.FromURL(u)
}

// fromURL does FromURL's work; its errors do not name the URL.
func (c Config) fromURL(u *url.URL) (ContextDialer, error) {
	if err := checkHandshakeTimeout(c.HandshakeTimeout); err != nil {
		return nil, err
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, invalidf("no host: write scheme://host:port, such as socks5://proxy.example:1080")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, invalidf("a proxy URL has no path, query or fragment: write scheme://host:port")
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case port != "":
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return nil, invalidf("the port %q is not a number from 1 to 65535", port)
		}
	case scheme == "http":
		port = defaultHTTPPort
	case scheme == "https":
		port = defaultHTTPSPort
	default:
		port = defaultSOCKSPort
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	user := u.User.Username()
	password, hasPassword := u.User.Password()

	switch scheme {
	case "socks4", "socks4a":
		if hasPassword {
			return nil, invalidf("SOCKS4 has a user ID and no password: write %s://userid@host:port", scheme)
		}
		d := &SOCKS4{Addr: addr, UserID: user, RemoteResolve: scheme == "socks4a", Forward: c.Forward}
		if err := d.check(); err != nil {
			return nil, err
		}
		return d, nil
	case "socks5", "socks5h":
		d := &SOCKS5{Addr: addr, Username: user, Password: password, RemoteResolve: scheme == "socks5h",
			Forward: c.Forward, HandshakeTimeout: c.HandshakeTimeout}
		if err := d.check(); err != nil {
			return nil, err
		}
		return d, nil
	case "http", "https":
		d := &HTTP{Addr: addr, Username: user, Password: password, Forward: c.Forward, HandshakeTimeout: c.HandshakeTimeout}
		if scheme == "https" {
			d.TLS = &tls.Config{}
		}
		if _, err := d.check(); err != nil {
			return nil, err
		}
		return d, nil
	default:
		return nil, invalidf("unknown scheme %q: use socks4, socks4a, socks5, socks5h, http or https", u.Scheme)
	}
}
