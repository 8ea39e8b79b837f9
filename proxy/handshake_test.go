package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testLimit is the handshake limit of these tests: short, so that they run
// quickly, and far below testContext's 20 s, so that a dial ended by the
// limit is told apart from one ended by the context.
const testLimit = 200 * time.Millisecond

// The sizes of what a SOCKS5 client with username "alice" and password
// "secret" sends to reach 192.0.2.1:25.
const (
	socks5AuthGreetingLen = 4  // 5 2 0 2
	socks5AuthLen         = 14 // 1 5 alice 6 secret
	socks5RequestLen      = 10 // 5 1 0 1 192.0.2.1 0 25
)

// socks5Stall is the step at which a stalling SOCKS5 proxy stops answering.
type socks5Stall int

const (
	stallMethod  socks5Stall = iota // reads the greeting, never chooses a method
	stallAuth                       // chooses username and password, reads them, never answers
	stallConnect                    // accepts the credentials, reads the CONNECT request, never answers
)

// stallSOCKS5 starts a SOCKS5 proxy that asks for a username and password and
// answers at once up to the step stall, where it reads the client's message,
// reports it on got, and stays silent until the client closes the connection.
func stallSOCKS5(t *testing.T, stall socks5Stall) *hangServer {
	h := &hangServer{got: make(chan struct{}, 8), closed: make(chan struct{}, 8)}
	h.server = serve(t, listen(t), func(_ *server, c net.Conn) error {
		steps := []exchange{
			{socks5AuthGreetingLen, []byte{5, socks5UserPass}},
			{socks5AuthLen, []byte{1, 0}},
			{socks5RequestLen, nil},
		}
		for i, step := range steps {
			if _, err := readN(c, nil, step.read); err != nil {
				return nil
			}
			if i == int(stall) {
				break
			}
			c.Write(step.write)
		}
		h.got <- struct{}{}
		io.Copy(io.Discard, c) // returns when the client closes the connection
		h.closed <- struct{}{}
		return nil
	})
	return h
}

// wantHandshakeTimeout fails the test unless err is an *Error of step op
// wrapping ErrHandshakeTimeout and saying words, returned while ctx, which
// has a far later deadline, was still running.
func wantHandshakeTimeout(t *testing.T, ctx context.Context, err error, op, words string) {
	t.Helper()
	if ctx.Err() != nil {
		t.Fatalf("the dial returned only when the context ended: %v", err)
	}
	var e *Error
	if !errors.Is(err, ErrHandshakeTimeout) || !errors.As(err, &e) || e.Op != op {
		t.Fatalf("got %v; want a %q *Error wrapping ErrHandshakeTimeout", err, op)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("got %v; a handshake timeout is not the context's end", err)
	}
	for _, w := range []string{words, testLimit.String(), "HandshakeTimeout"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
}

// TestSOCKS5HandshakeTimeout proves that a SOCKS5 proxy that accepts the
// connection and then does not choose a method, or does not answer the
// username and password, fails on HandshakeTimeout, long before the
// context's deadline, and that the connection to it is closed.
func TestSOCKS5HandshakeTimeout(t *testing.T) {
	t.Run("silent after accepting, no credentials", func(t *testing.T) {
		proxy := startHangServer(t)
		ctx := testContext(t)
		d := &SOCKS5{Addr: proxy.addr(), HandshakeTimeout: testLimit}
		_, err := d.DialContext(ctx, "tcp", "192.0.2.1:25")
		wantHandshakeTimeout(t, ctx, err, "handshake", "choice of authentication method")
		proxy.waitClosed(t)
	})
	t.Run("silent after accepting, with credentials", func(t *testing.T) {
		proxy := stallSOCKS5(t, stallMethod)
		ctx := testContext(t)
		d := &SOCKS5{Addr: proxy.addr(), Username: "alice", Password: "secret", HandshakeTimeout: testLimit}
		_, err := d.DialContext(ctx, "tcp", "192.0.2.1:25")
		wantHandshakeTimeout(t, ctx, err, "handshake", "choice of authentication method")
		proxy.waitClosed(t)
	})
	t.Run("silent after the credentials", func(t *testing.T) {
		proxy := stallSOCKS5(t, stallAuth)
		ctx := testContext(t)
		d := &SOCKS5{Addr: proxy.addr(), Username: "alice", Password: "secret", HandshakeTimeout: testLimit}
		_, err := d.DialContext(ctx, "tcp", "192.0.2.1:25")
		wantHandshakeTimeout(t, ctx, err, "handshake", "answer to the username and password")
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the password: %v", err)
		}
		proxy.waitClosed(t)
	})
}

// TestSOCKS5SlowConnectReply proves that HandshakeTimeout does not limit the
// CONNECT reply, which waits for the proxy to reach the target: a proxy that
// answers the method and credentials at once and CONNECT only after the
// limit has passed gives a working tunnel.
func TestSOCKS5SlowConnectReply(t *testing.T) {
	backend := startBackend(t)
	p := []byte{byte(port(backend) >> 8), byte(port(backend))}
	request := concat([]byte{5, 1, 0, 1, 127, 0, 0, 1}, p)
	tests := []struct {
		name string
		d    SOCKS5
		cfg  socks5Config
	}{{
		name: "no credentials",
		cfg:  socks5Config{greeting: []byte{5, 1, 0}},
	}, {
		name: "username and password",
		d:    SOCKS5{Username: "alice", Password: "secret"},
		cfg:  socks5Config{greeting: []byte{5, 2, 0, 2}, user: "alice", pass: "secret"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.request = request
			cfg.backend = backend.addr()
			cfg.delay = 3 * testLimit
			proxy := socks5Server(t, cfg)
			d := tt.d
			d.Addr = proxy.addr()
			d.HandshakeTimeout = testLimit
			conn, err := d.DialContext(testContext(t), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port(backend))))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			readGreetingNoDeadline(t, conn)
		})
	}
}

// readGreetingNoDeadline reads the backend's greeting through conn without
// setting a deadline, proving that none is left from the handshake: the
// handshake limit has passed by now, and a read under it would fail at once.
func readGreetingNoDeadline(t *testing.T, conn net.Conn) {
	t.Helper()
	got := make([]byte, len(greeting))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != greeting {
		t.Fatalf("greeting through the proxy: %q, %v; want %q", got, err, greeting)
	}
}

// TestHTTPSHandshakeTimeout proves that an HTTPS proxy that accepts the
// connection and never finishes the TLS handshake fails on HandshakeTimeout,
// long before the context's deadline, and that the connection is closed.
func TestHTTPSHandshakeTimeout(t *testing.T) {
	_, clientTLS := testCert(t)
	proxy := startHangServer(t) // reads the ClientHello, never answers
	ctx := testContext(t)
	d := &HTTP{Addr: proxy.addr(), TLS: clientTLS, HandshakeTimeout: testLimit}
	_, err := d.DialContext(ctx, "tcp", "mail.test:25")
	wantHandshakeTimeout(t, ctx, err, "tls", "TLS handshake")
	proxy.waitClosed(t)
}

// TestHTTPSlowConnectReply proves that HandshakeTimeout does not limit the
// CONNECT reply, over TLS or not.
func TestHTTPSlowConnectReply(t *testing.T) {
	backend := startBackend(t)
	serverTLS, clientTLS := testCert(t)
	for _, withTLS := range []bool{false, true} {
		name := "http"
		if withTLS {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			ln := listen(t)
			d := &HTTP{HandshakeTimeout: testLimit}
			if withTLS {
				ln = tls.NewListener(ln, serverTLS)
				d.TLS = clientTLS
			}
			proxy := httpServer(t, ln, httpConfig{
				request: connectRequest(target(backend)),
				tunnel:  backend.addr(),
				delay:   3 * testLimit,
			})
			d.Addr = proxy.addr()
			conn, err := d.DialContext(testContext(t), "tcp", target(backend))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			readGreetingNoDeadline(t, conn)
		})
	}
}

// TestHandshakeCancel proves that cancelling the context in each phase of
// the handshake, or reaching its deadline before HandshakeTimeout, returns
// at once with the context's error, not ErrHandshakeTimeout, and closes the
// connection to the proxy.
func TestHandshakeCancel(t *testing.T) {
	_, clientTLS := testCert(t)
	const long = time.Minute // a limit the context always ends before, unless it is ignored
	socks5 := func(addr string) ContextDialer {
		return &SOCKS5{Addr: addr, Username: "alice", Password: "secret", HandshakeTimeout: long}
	}
	tests := []struct {
		name  string
		start func(t *testing.T) *hangServer
		d     func(addr string) ContextDialer
		op    string
	}{
		{"SOCKS5 method", func(t *testing.T) *hangServer { return stallSOCKS5(t, stallMethod) }, socks5, "handshake"},
		{"SOCKS5 authentication", func(t *testing.T) *hangServer { return stallSOCKS5(t, stallAuth) }, socks5, "handshake"},
		{"SOCKS5 CONNECT", func(t *testing.T) *hangServer { return stallSOCKS5(t, stallConnect) }, socks5, "handshake"},
		{"HTTPS TLS handshake", startHangServer, func(addr string) ContextDialer {
			return &HTTP{Addr: addr, TLS: clientTLS, HandshakeTimeout: long}
		}, "tls"},
	}
	for _, tt := range tests {
		t.Run("cancel during "+tt.name, func(t *testing.T) {
			proxy := tt.start(t)
			start := time.Now()
			_, err := tt.d(proxy.addr()).DialContext(proxy.cancelWhenAsked(t), "tcp", "192.0.2.1:25")
			if time.Since(start) >= long {
				t.Errorf("the dial ended only with the handshake limit, not with the cancellation")
			}
			checkCancelled(t, err, tt.op, context.Canceled)
			if errors.Is(err, ErrHandshakeTimeout) {
				t.Errorf("got %v; a cancellation is not a handshake timeout", err)
			}
			proxy.waitClosed(t)
		})
		t.Run("deadline during "+tt.name, func(t *testing.T) {
			proxy := tt.start(t)
			ctx, cancel := context.WithTimeout(testContext(t), 3*testLimit)
			defer cancel()
			start := time.Now()
			_, err := tt.d(proxy.addr()).DialContext(ctx, "tcp", "192.0.2.1:25")
			if time.Since(start) >= long {
				t.Errorf("the dial ended only with the handshake limit, not with the context's deadline")
			}
			checkCancelled(t, err, tt.op, context.DeadlineExceeded)
			if errors.Is(err, ErrHandshakeTimeout) {
				t.Errorf("got %v; the context's deadline came first", err)
			}
			proxy.waitClosed(t)
		})
	}
	// Once the proxy's own replies are in, the limit is lifted and the
	// context's deadline, later than the limit, is the one in force.
	t.Run("deadline during CONNECT after the limit", func(t *testing.T) {
		proxy := stallSOCKS5(t, stallConnect)
		ctx, cancel := context.WithTimeout(testContext(t), 3*testLimit)
		defer cancel()
		d := &SOCKS5{Addr: proxy.addr(), Username: "alice", Password: "secret", HandshakeTimeout: testLimit}
		_, err := d.DialContext(ctx, "tcp", "192.0.2.1:25")
		checkCancelled(t, err, "handshake", context.DeadlineExceeded)
		if errors.Is(err, ErrHandshakeTimeout) {
			t.Errorf("got %v; the CONNECT reply is not under the handshake limit", err)
		}
		proxy.waitClosed(t)
	})
}
