package smtptest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Proxy is a SOCKS4, SOCKS5 or HTTP CONNECT proxy on a random port of
// 127.0.0.1, for testing clients that dial through proxies: it records what
// each client asked for and relays the connections it grants. By default it
// connects only to loopback addresses, so a test never reaches the network
// through it.
type Proxy struct {
	// Addr is the "127.0.0.1:port" address the proxy listens on.
	Addr string
	// Protocol is "socks4" (which also serves SOCKS4a), "socks5" or "http".
	Protocol string

	cfg      ProxyConfig
	serve    func(p *Proxy, c net.Conn, r *bufio.Reader) // the protocol's handshake
	listener *trackingListener
	wg       sync.WaitGroup // the accept loop and every connection
	hanging  chan struct{}  // closed when Hang first holds a connection
	hangOnce sync.Once

	mu       sync.Mutex
	closed   bool
	requests []ProxyRequest
	targets  map[net.Conn]struct{} // connections to targets, still open
}

// ProxyConfig says how a Proxy behaves; the zero value relays every request
// to a loopback target and asks for no credentials.
type ProxyConfig struct {
	// Username, when set, is required with Password: SOCKS5 username and
	// password authentication (RFC 1929) or HTTP Basic (Proxy-Authorization,
	// answered 407 when missing or wrong). A SOCKS4 proxy requires the user ID
	// Username and ignores Password.
	Username, Password string
	// Refuse makes the proxy refuse every connection request once the
	// client has authenticated (SOCKS5 reply 2, SOCKS4 0x5B, HTTP 403).
	Refuse bool
	// Hang makes the proxy read the client's first bytes and then never
	// answer, until the client or Close ends the connection.
	Hang bool
	// Dial connects to the target, host:port as the client sent it; nil
	// means a net.Dialer that refuses any address not on loopback.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// ProxyRequest is what one client asked a Proxy for.
type ProxyRequest struct {
	// Target is the host:port asked for: a name when the client sent one
	// (SOCKS4a, SOCKS5, HTTP), empty when it failed to authenticate first.
	Target string
	// Username and Password are the credentials sent (for SOCKS4, the user
	// ID in Username); empty when none were.
	Username, Password string
	// Granted says whether the proxy connected to the target and relayed.
	Granted bool
	// Client is the address the client connected from, "ip:port".
	Client string
}

// NewSOCKS5Proxy starts a SOCKS5 proxy (RFC 1928): CONNECT to IPv4, IPv6
// and name targets. The caller must call Close when finished.
func NewSOCKS5Proxy(cfg ProxyConfig) *Proxy { return startProxy("socks5", cfg, serveSOCKS5) }

// NewSOCKS4Proxy starts a SOCKS4 proxy that also speaks SOCKS4a (a name
// target). The caller must call Close when finished.
func NewSOCKS4Proxy(cfg ProxyConfig) *Proxy { return startProxy("socks4", cfg, serveSOCKS4) }

// NewHTTPProxy starts an HTTP proxy that serves the CONNECT method.
// The caller must call Close when finished.
func NewHTTPProxy(cfg ProxyConfig) *Proxy { return startProxy("http", cfg, serveHTTP) }

func startProxy(protocol string, cfg ProxyConfig, serve func(*Proxy, net.Conn, *bufio.Reader)) *Proxy {
	tl, err := listenLoopback()
	if err != nil {
		panic(fmt.Sprintf("smtptest: failed to listen on 127.0.0.1: %v", err))
	}
	p := &Proxy{
		Addr: tl.Addr().String(), Protocol: protocol, cfg: cfg, serve: serve, listener: tl,
		hanging: make(chan struct{}), targets: map[net.Conn]struct{}{},
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p
}

// URL returns the proxy's URL for a client, with the credentials it
// requires, such as "socks5://user:pass@127.0.0.1:40123".
func (p *Proxy) URL() string {
	u := url.URL{Scheme: p.Protocol, Host: p.Addr}
	switch {
	case p.cfg.Username == "":
	case p.Protocol == "socks4":
		u.User = url.User(p.cfg.Username)
	default:
		u.User = url.UserPassword(p.cfg.Username, p.cfg.Password)
	}
	return u.String()
}

// Requests returns what the clients asked for so far, oldest first.
func (p *Proxy) Requests() []ProxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// Connections returns the number of client connections accepted so far.
func (p *Proxy) Connections() int { return p.listener.count() }

// Hanging returns a channel that is closed when a Hang proxy first holds a
// client's connection without answering.
func (p *Proxy) Hanging() <-chan struct{} { return p.hanging }

// Close stops the proxy, closes every connection, to clients and to
// targets, and waits until every goroutine it started has returned. It is
// safe to call more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for c := range p.targets {
		c.Close()
	}
	p.mu.Unlock()
	p.listener.Close()
	p.listener.closeConns()
	p.wg.Wait()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.listener.Accept()
		if err != nil {
			return // closed by Close
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(DefaultRawTimeout)) // for the handshake
			r := bufio.NewReader(c)
			if p.cfg.Hang {
				p.hang(c, r)
				return
			}
			p.serve(p, c, r)
		}()
	}
}

// hang reads the client's first bytes, then waits for the connection to end.
func (p *Proxy) hang(c net.Conn, r *bufio.Reader) {
	c.SetDeadline(time.Time{})
	if _, err := r.Peek(1); err != nil {
		return
	}
	p.hangOnce.Do(func() { close(p.hanging) })
	io.Copy(io.Discard, r)
}

// record keeps a request.
func (p *Proxy) record(req ProxyRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, req)
}

// dialTarget connects to the target of a granted request and tracks the
// connection so that Close can close it.
func (p *Proxy) dialTarget(addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultRawTimeout)
	defer cancel()
	dial := p.cfg.Dial
	if dial == nil {
		dial = dialLoopback
	}
	t, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		t.Close()
		return nil, net.ErrClosed
	}
	p.targets[t] = struct{}{}
	return t, nil
}

// dialLoopback connects to addr after checking that every address of its host is on loopback.
func dialLoopback(ctx context.Context, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("smtptest: the proxy reaches only loopback addresses, not %s", ip)
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// relay copies bytes both ways between the client, whose bytes come from
// r, and the target, until either side closes; then it closes both.
func (p *Proxy) relay(client net.Conn, r io.Reader, target net.Conn) {
	client.SetDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(client, target)
		client.Close()
	}()
	io.Copy(target, r)
	p.closeTarget(target)
	<-done
}

// closeTarget closes a connection to a target and stops tracking it.
func (p *Proxy) closeTarget(target net.Conn) {
	target.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.targets, target)
}
