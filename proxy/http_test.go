package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// httpConfig says what a test HTTP proxy expects and how it answers.
type httpConfig struct {
	request string        // the CONNECT request expected, byte for byte
	tunnel  string        // when set, the address to tunnel to after a 200 reply
	early   bool          // send the tunnel's first bytes (the backend's greeting) in the same write as the 200 reply
	dribble bool          // send the 200 reply and early bytes one byte at a time
	reply   string        // when not tunnelling: the reply to send before closing
	delay   time.Duration // how long to wait before the reply
}

// httpServer starts an HTTP CONNECT proxy on ln that checks the request
// byte for byte, then answers as cfg says.
func httpServer(t *testing.T, ln net.Listener, cfg httpConfig) *server {
	return serve(t, ln, func(s *server, c net.Conn) error {
		req, err := readHTTPRequest(c)
		if err != nil && req == "" {
			return nil // the client went away before sending, e.g. after a failed TLS handshake
		}
		if err != nil {
			return fmt.Errorf("reading the request: %w", err)
		}
		if req != cfg.request {
			return fmt.Errorf("request\n got %q\nwant %q", req, cfg.request)
		}
		time.Sleep(cfg.delay)
		if cfg.tunnel == "" {
			io.WriteString(c, cfg.reply)
			return nil
		}
		b, err := dialBackend(s, cfg.tunnel)
		if err != nil {
			return err
		}
		reply := []byte("HTTP/1.1 200 Connection established\r\nVia: 1.1 test\r\n\r\n")
		if cfg.early {
			// Wait for the backend's greeting and send it with the reply.
			first, err := readN(b, nil, len(greeting))
			if err != nil {
				return err
			}
			reply = append(reply, first...)
		}
		if cfg.dribble {
			for i := range reply {
				if _, err := c.Write(reply[i : i+1]); err != nil {
					return err
				}
			}
		} else if _, err := c.Write(reply); err != nil {
			return err
		}
		relay(c, b)
		return nil
	})
}

// readHTTPRequest reads a request header one byte at a time, so that nothing
// after it is consumed, up to the empty line.
func readHTTPRequest(r io.Reader) (string, error) {
	var b []byte
	var err error
	for len(b) < 64<<10 {
		if b, err = readN(r, b, 1); err != nil {
			return string(b), err
		}
		if strings.HasSuffix(string(b), "\r\n\r\n") {
			return string(b), nil
		}
	}
	return string(b), errors.New("request header too long")
}

// connectRequest returns the CONNECT request for target with the given header lines.
func connectRequest(target string, lines ...string) string {
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	for _, l := range lines {
		req += l + "\r\n"
	}
	return req + "\r\n"
}

// TestHTTPRoundTrip proves that the CONNECT request is sent byte for byte
// as expected (request line, Host, Basic credentials, extra header fields),
// over TLS for an HTTPS proxy, and that the tunnel reaches the backend with
// none of the bytes lost that the proxy sent right after its reply.
func TestHTTPRoundTrip(t *testing.T) {
	backend := startBackend(t)
	serverTLS, clientTLS := testCert(t)
	ipv6Target := net.JoinHostPort("::1", strconv.Itoa(port(backend)))
	tests := []struct {
		name    string
		d       HTTP
		tls     bool
		target  string
		dribble bool
		want    string
	}{{
		name:   "no credentials",
		target: target(backend),
		want:   connectRequest(target(backend)),
	}, {
		name:   "Basic credentials and extra header fields",
		d:      HTTP{Username: "alice", Password: "secret", Header: http.Header{"User-Agent": {"smtpkit-test"}, "X-Trace": {"1", "2"}}},
		target: target(backend),
		want: connectRequest(target(backend), "Proxy-Authorization: Basic YWxpY2U6c2VjcmV0",
			"User-Agent: smtpkit-test", "X-Trace: 1", "X-Trace: 2"),
	}, {
		name:   "HTTPS proxy with credentials",
		d:      HTTP{Username: "alice", Password: "secret", TLS: clientTLS},
		tls:    true,
		target: target(backend),
		want:   connectRequest(target(backend), "Proxy-Authorization: Basic YWxpY2U6c2VjcmV0"),
	}, {
		name:   "IPv6 target in brackets",
		target: ipv6Target,
		want:   connectRequest("[::1]:" + strconv.Itoa(port(backend))),
	}, {
		name:    "reply sent one byte at a time",
		target:  target(backend),
		dribble: true,
		want:    connectRequest(target(backend)),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t)
			if tt.tls {
				ln = tls.NewListener(ln, serverTLS)
			}
			proxy := httpServer(t, ln, httpConfig{request: tt.want, tunnel: backend.addr(), early: true, dribble: tt.dribble})
			d := tt.d
			d.Addr = proxy.addr()
			conn, err := d.DialContext(testContext(t), "tcp", tt.target)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			roundTrip(t, conn)
		})
	}
}

// TestHTTPStatuses proves that each refusal becomes an error wrapping the
// right sentinel, with the status, the proxy and the target, and says
// whether credentials were sent.
func TestHTTPStatuses(t *testing.T) {
	const offers = "Proxy-Authenticate: Basic realm=\"proxy\"\r\nProxy-Authenticate: NTLM\r\n"
	withCredentials := HTTP{Username: "alice", Password: "secret"}
	withHeader := HTTP{Header: http.Header{"Proxy-Authorization": {"Bearer token-secret"}}}
	tests := []struct {
		name     string
		d        HTTP
		reply    string
		sentinel error
		code     int
		words    []string
	}{
		{"407 without credentials", HTTP{}, "HTTP/1.1 407 Proxy Authentication Required\r\n" + offers + "\r\n",
			ErrAuthRequired, 407, []string{"none were sent", "HTTP 407", "offers Basic, NTLM"}},
		{"407 with credentials", withCredentials, "HTTP/1.1 407 Proxy Authentication Required\r\n" + offers + "\r\n",
			ErrAuthFailed, 407, []string{"rejected the credentials", "HTTP 407", "check the user name"}},
		{"407 with a Proxy-Authorization header", withHeader, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
			ErrAuthFailed, 407, []string{"rejected the credentials"}},
		{"tinyproxy's 401 without credentials", HTTP{}, "HTTP/1.0 401 Unauthorized\r\n\r\n",
			ErrAuthRequired, 401, []string{"HTTP 401"}},
		{"tinyproxy's 401 with credentials", withCredentials, "HTTP/1.0 401 Unauthorized\r\n\r\n",
			ErrAuthFailed, 401, []string{"HTTP 401"}},
		{"403", HTTP{}, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
			ErrRefused, 403, []string{"HTTP 403", "port 443"}},
		{"502", HTTP{}, "HTTP/1.1 502 Bad Gateway\r\n\r\n",
			ErrRefused, 502, []string{"HTTP 502", "could not reach the target"}},
		{"503", HTTP{}, "HTTP/1.1 503 Service Unavailable\r\n\r\n",
			ErrRefused, 503, []string{"HTTP 503", "could not reach the target"}},
		{"405", HTTP{}, "HTTP/1.1 405 Method Not Allowed\r\n\r\n",
			ErrRefused, 405, []string{"HTTP 405", "support CONNECT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			if tt.d.Username != "" {
				lines = append(lines, "Proxy-Authorization: Basic YWxpY2U6c2VjcmV0")
			}
			if v := tt.d.Header.Get("Proxy-Authorization"); v != "" {
				lines = append(lines, "Proxy-Authorization: "+v)
			}
			proxy := httpServer(t, listen(t), httpConfig{request: connectRequest("mail.test:25", lines...), reply: tt.reply})
			d := tt.d
			d.Addr = proxy.addr()
			conn, err := d.DialContext(testContext(t), "tcp", "mail.test:25")
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded")
			}
			var e *Error
			if !errors.Is(err, tt.sentinel) || !errors.As(err, &e) || e.Code != tt.code || e.Op != "handshake" {
				t.Fatalf("got %v; want a handshake *Error with code %d wrapping %v", err, tt.code, tt.sentinel)
			}
			for _, s := range append(tt.words, proxy.addr(), "mail.test:25") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "YWxpY2U6c2VjcmV0") {
				t.Errorf("the error shows the credentials: %v", err)
			}
		})
	}
}

// TestHTTPMalformedReplies proves that replies that are not HTTP, are
// malformed, too large, or cut short become ErrProtocol errors.
func TestHTTPMalformedReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		words string
	}{
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n", "status line"},
		{"SOCKS5 bytes, then closed", "\x05\xff", "closed the connection"},
		{"no status code", "HTTP/1.1 2x0 OK\r\n\r\n", "3-digit"},
		{"short status code", "HTTP/1.1 20 OK\r\n\r\n", "3-digit"},
		{"header line without colon", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header field"},
		{"obsolete line folding", "HTTP/1.1 200 OK\r\nVia: a\r\n b\r\n\r\n", "malformed header field"},
		{"one oversized header field", "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("a", 17<<10) + "\r\n\r\n", "larger than 16 KiB"},
		{"too many header fields", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Pad: aaaaaaaaaaaaaaaaaaaaaaa\r\n", 1000) + "\r\n", "larger than 16 KiB"},
		{"closed mid-header", "HTTP/1.1 200 OK\r\nVia: 1.1 t", "closed the connection"},
		{"closed without a reply", "", "closed the connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := httpServer(t, listen(t), httpConfig{request: connectRequest("mail.test:25"), reply: tt.reply})
			d := &HTTP{Addr: proxy.addr()}
			conn, err := d.DialContext(testContext(t), "tcp", "mail.test:25")
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded")
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v; want ErrProtocol", err)
			}
			if !strings.Contains(err.Error(), tt.words) {
				t.Errorf("%q does not say %q", err, tt.words)
			}
			if strings.Contains(tt.words, "closed") && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("got %v; want it to wrap io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// TestHTTPInvalidArguments proves that anything that could break the request
// (CR, LF, NUL, bad names) is refused before the proxy is dialled.
func TestHTTPInvalidArguments(t *testing.T) {
	tests := []struct {
		name    string
		d       HTTP
		network string
		target  string
	}{
		{"CR LF in the target", HTTP{}, "tcp", "mail.test\r\nX-Evil: 1:25"},
		{"space in the target", HTTP{}, "tcp", "mail.test HTTP/1.1:25"},
		{"CR LF in a header value", HTTP{Header: http.Header{"User-Agent": {"x\r\nX-Evil: 1"}}}, "tcp", "mail.test:25"},
		{"NUL in a header value", HTTP{Header: http.Header{"User-Agent": {"x\x00"}}}, "tcp", "mail.test:25"},
		{"bad header name", HTTP{Header: http.Header{"Bad Name": {"x"}}}, "tcp", "mail.test:25"},
		{"Host header", HTTP{Header: http.Header{"Host": {"elsewhere"}}}, "tcp", "mail.test:25"},
		{"two kinds of credentials", HTTP{Username: "alice", Header: http.Header{"Proxy-Authorization": {"Bearer x"}}}, "tcp", "mail.test:25"},
		{"colon in the username", HTTP{Username: "al:ice"}, "tcp", "mail.test:25"},
		{"CR LF in the password", HTTP{Username: "alice", Password: "secret\r\n"}, "tcp", "mail.test:25"},
		{"password without username", HTTP{Password: "secret"}, "tcp", "mail.test:25"},
		{"udp", HTTP{}, "udp", "mail.test:25"},
		{"negative handshake timeout", HTTP{HandshakeTimeout: -time.Second}, "tcp", "mail.test:25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			d.Addr = "127.0.0.1:1"
			d.Forward = mustNotDial{t}
			_, err := d.DialContext(testContext(t), tt.network, tt.target)
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("got %v; want ErrInvalidArgument", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	t.Run("credentials in the proxy address", func(t *testing.T) {
		d := &HTTP{Addr: "alice:secret@proxy.test:8080", Forward: mustNotDial{t}}
		_, err := d.DialContext(testContext(t), "tcp", "mail.test:25")
		if !errors.Is(err, ErrInvalidArgument) || strings.Contains(err.Error(), "secret") {
			t.Fatalf("got %v; want ErrInvalidArgument without the password", err)
		}
	})
}

// TestHTTPCancel proves that cancelling the context, or reaching its
// deadline, unblocks a dial to a proxy that never answers CONNECT or never
// finishes the TLS handshake, and that the connection is closed.
func TestHTTPCancel(t *testing.T) {
	_, clientTLS := testCert(t)
	t.Run("cancel during CONNECT", func(t *testing.T) {
		proxy := startHangServer(t)
		d := &HTTP{Addr: proxy.addr()}
		_, err := d.DialContext(proxy.cancelWhenAsked(t), "tcp", "mail.test:25")
		checkCancelled(t, err, "handshake", context.Canceled)
		proxy.waitClosed(t)
	})
	t.Run("deadline during CONNECT", func(t *testing.T) {
		proxy := startHangServer(t)
		ctx, cancel := context.WithTimeout(testContext(t), 50*time.Millisecond)
		defer cancel()
		d := &HTTP{Addr: proxy.addr()}
		_, err := d.DialContext(ctx, "tcp", "mail.test:25")
		checkCancelled(t, err, "handshake", context.DeadlineExceeded)
		proxy.waitClosed(t)
	})
	t.Run("cancel during the TLS handshake", func(t *testing.T) {
		proxy := startHangServer(t) // reads the ClientHello, never answers
		d := &HTTP{Addr: proxy.addr(), TLS: clientTLS}
		_, err := d.DialContext(proxy.cancelWhenAsked(t), "tcp", "mail.test:25")
		checkCancelled(t, err, "tls", context.Canceled)
		proxy.waitClosed(t)
	})
}

// TestHTTPSUntrustedCertificate proves that an HTTPS proxy's certificate is
// verified: an untrusted one fails the "tls" step.
func TestHTTPSUntrustedCertificate(t *testing.T) {
	serverTLS, _ := testCert(t)
	proxy := httpServer(t, tls.NewListener(listen(t), serverTLS), httpConfig{request: connectRequest("mail.test:25")})
	d := &HTTP{Addr: proxy.addr(), TLS: &tls.Config{}}
	_, err := d.DialContext(testContext(t), "tcp", "mail.test:25")
	var e *Error
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &e) || e.Op != "tls" || !errors.As(err, &certErr) {
		t.Fatalf("got %v; want a tls *Error wrapping a certificate verification error", err)
	}
}

// TestChain proves that proxies chain through Forward: a SOCKS5 proxy
// reached through an HTTP CONNECT tunnel, itself reached through the
// caller's dialer.
func TestChain(t *testing.T) {
	backend := startBackend(t)
	p := []byte{byte(port(backend) >> 8), byte(port(backend))}
	socks := socks5Server(t, socks5Config{
		greeting: []byte{5, 1, 0},
		request:  concat([]byte{5, 1, 0, 1, 127, 0, 0, 1}, p),
		backend:  backend.addr(),
	})
	web := httpServer(t, listen(t), httpConfig{request: connectRequest(socks.addr()), tunnel: socks.addr()})
	forward := &recordingForward{}
	d := &SOCKS5{
		Addr:     socks.addr(),
		Resolver: testResolver,
		Forward:  &HTTP{Addr: web.addr(), Forward: forward},
	}
	conn, err := d.DialContext(testContext(t), "tcp4", target(backend))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn)
	if got := forward.dialled(); !slices.Equal(got, []string{web.addr()}) {
		t.Errorf("the caller's dialer dialled %q; want only the HTTP proxy %s", got, web.addr())
	}
}

// pipeDialer hands out the client end of an in-memory pipe whose other end
// is served by proxy, so that the proxy's writes arrive exactly as written.
type pipeDialer struct {
	proxy func(net.Conn)
	wg    *sync.WaitGroup
}

func (d pipeDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer server.Close()
		d.proxy(server)
	}()
	return client, nil
}

// TestHTTPEarlyBytes proves that the start of the tunnelled stream, sent in
// the same write as the 200 reply, is read first from the returned connection.
func TestHTTPEarlyBytes(t *testing.T) {
	var wg sync.WaitGroup
	defer wg.Wait()
	forward := pipeDialer{wg: &wg, proxy: func(c net.Conn) {
		if req, err := readHTTPRequest(c); err != nil || req != connectRequest("mail.test:25") {
			t.Errorf("request %q, %v", req, err)
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n220 early\r\n")
		io.WriteString(c, "250 later\r\n")
	}}
	d := &HTTP{Addr: "proxy.test:8080", Forward: forward}
	conn, err := d.DialContext(testContext(t), "tcp", "mail.test:25")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, ok := conn.(*prefixConn); !ok {
		t.Errorf("got a %T; want a *prefixConn holding the early bytes", conn)
	}
	got, err := io.ReadAll(conn)
	if string(got) != "220 early\r\n250 later\r\n" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
}

// TestPrefixConn proves that the bytes read with the reply come first, even
// through small reads, then the rest of the stream.
func TestPrefixConn(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		io.WriteString(server, "world")
		server.Close()
	}()
	c := &prefixConn{Conn: client, pending: []byte("hello ")}
	var got []byte
	buf := make([]byte, 4)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if string(got) != "hello world" {
		t.Fatalf("read %q", got)
	}
}
