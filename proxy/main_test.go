package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	xproxy "golang.org/x/net/proxy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Every dialer satisfies golang.org/x/net/proxy's ContextDialer.
var (
	_ xproxy.ContextDialer = (*SOCKS4)(nil)
	_ xproxy.ContextDialer = (*SOCKS5)(nil)
	_ xproxy.ContextDialer = (*HTTP)(nil)
	_ xproxy.ContextDialer = (*envDialer)(nil)
)

// testContext bounds a test's calls, so that a bug fails the test instead of hanging it.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// server is an in-process server on 127.0.0.1 that runs a handler for each
// connection. When the test ends it closes the listener and every
// connection, and waits for the handlers to return.
type server struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// listen returns a TCP listener on 127.0.0.1 with a free port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs handle for each connection ln accepts; an error it returns fails the test.
func serve(t *testing.T, ln net.Listener, handle func(s *server, c net.Conn) error) *server {
	t.Helper()
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.track(c)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				if err := handle(s, c); err != nil {
					t.Errorf("server %s: %v", ln.Addr(), err)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// addr returns the server's host:port.
func (s *server) addr() string { return s.ln.Addr().String() }

// track makes the server close c when the test ends.
func (s *server) track(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = append(s.conns, c)
}

// greeting is what the backend sends first, like an SMTP server.
const greeting = "220 hello\r\n"

// startBackend starts an SMTP-like backend: it sends greeting, then echoes every byte.
func startBackend(t *testing.T) *server {
	return serve(t, listen(t), func(_ *server, c net.Conn) error {
		if _, err := io.WriteString(c, greeting); err != nil {
			return nil // the client went away: not the backend's problem
		}
		io.Copy(c, c)
		return nil
	})
}

// target returns "mail.test:port", the name the fake resolvers and proxies map to 127.0.0.1.
func target(s *server) string {
	return net.JoinHostPort("mail.test", strconv.Itoa(port(s)))
}

// port returns the server's port.
func port(s *server) int { return s.ln.Addr().(*net.TCPAddr).Port }

// relay copies bytes both ways between the proxy's client and the backend,
// as a proxy does after a successful handshake, until either side closes.
func relay(client, backend net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(client, backend)
		client.Close()
	}()
	io.Copy(backend, client)
	backend.Close()
	<-done
}

// dialBackend connects a fake proxy to the backend; the proxy s closes it when the test ends.
func dialBackend(s *server, addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.track(c)
	return c, nil
}

// roundTrip proves that conn reaches the backend: it reads the greeting,
// then sends a line and reads its echo.
func roundTrip(t *testing.T, conn net.Conn) {
	t.Helper()
	// A safety net so that a broken tunnel fails the test rather than hanging it.
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil || line != greeting {
		t.Fatalf("greeting through the proxy: %q, %v; want %q", line, err, greeting)
	}
	if _, err := io.WriteString(conn, "PING 1\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err = r.ReadString('\n')
	if err != nil || line != "PING 1\r\n" {
		t.Fatalf("echo through the proxy: %q, %v", line, err)
	}
}

// hangServer accepts connections, reads what the client sends, reports it on
// got, then never answers; when the client closes the connection it reports on closed.
type hangServer struct {
	*server
	got    chan struct{}
	closed chan struct{}
}

func startHangServer(t *testing.T) *hangServer {
	h := &hangServer{got: make(chan struct{}, 8), closed: make(chan struct{}, 8)}
	h.server = serve(t, listen(t), func(_ *server, c net.Conn) error {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			return nil
		}
		h.got <- struct{}{}
		io.Copy(io.Discard, c) // returns when the client closes the connection
		h.closed <- struct{}{}
		return nil
	})
	return h
}

// cancelWhenAsked returns a context that is cancelled as soon as the hang
// server has received the client's first bytes.
func (h *hangServer) cancelWhenAsked(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(testContext(t))
	t.Cleanup(cancel)
	go func() {
		select {
		case <-h.got:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

// waitClosed fails the test unless the client closed its connection to the hang server.
func (h *hangServer) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-h.closed:
	case <-testContext(t).Done():
		t.Fatal("the dialer did not close its connection to the proxy")
	}
}

// checkCancelled fails the test unless err is an *Error of step op wrapping want.
func checkCancelled(t *testing.T, err error, op string, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v; want an error wrapping %v", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != op {
		t.Fatalf("got %#v; want an *Error with Op %q", err, op)
	}
}

// fakeResolver maps host names to addresses, as a DNS server would.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// testResolver knows mail.test (IPv6 first, to prove SOCKS4 picks the IPv4
// address) and v6only.test.
var testResolver = fakeResolver{
	"mail.test":   {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	"v6only.test": {netip.MustParseAddr("::1")},
}

// blockingResolver never answers before its context ends.
type blockingResolver struct{ asked chan struct{} }

func (r blockingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.asked <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// mustNotDial is a forward dialer that fails the test if the dialer reaches for the proxy.
type mustNotDial struct{ t *testing.T }

func (d mustNotDial) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.t.Errorf("dialled %s although the request was invalid", addr)
	return nil, errors.New("must not dial")
}

// recordingForward dials through a net.Dialer and records the addresses it was asked for.
type recordingForward struct {
	mu    sync.Mutex
	addrs []string
}

func (d *recordingForward) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// dialled returns the addresses dialled so far.
func (d *recordingForward) dialled() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// testCert returns a server certificate for 127.0.0.1 and a client
// configuration that trusts it.
func testCert(t *testing.T) (server *tls.Config, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "proxy.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"proxy.test"},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}
