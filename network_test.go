package smtpkit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/proxy"
	"github.com/smtpkit/smtpkit/smtptest"
)

// proxyPassword is the proxies' password in these tests; it must never
// appear in an error or a transcript.
const proxyPassword = "s3cret-Pr0xy"

// proxyKind starts one kind of in-process proxy.
type proxyKind struct {
	name  string
	start func(smtptest.ProxyConfig) *smtptest.Proxy
	cfg   smtptest.ProxyConfig
}

var proxyKinds = []proxyKind{
	{"socks5", smtptest.NewSOCKS5Proxy, smtptest.ProxyConfig{}},
	{"socks5 with password", smtptest.NewSOCKS5Proxy, smtptest.ProxyConfig{Username: "alice", Password: proxyPassword}},
	{"socks4", smtptest.NewSOCKS4Proxy, smtptest.ProxyConfig{Username: "alice"}},
	{"http", smtptest.NewHTTPProxy, smtptest.ProxyConfig{}},
	{"http with password", smtptest.NewHTTPProxy, smtptest.ProxyConfig{Username: "alice", Password: proxyPassword}},
}

// safeBuffer is a transcript writer that may be written while it is read.
type safeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *safeBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *safeBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// connects counts the connections a Dial opened, from its Trace.
type connects struct {
	mu sync.Mutex
	ok int
}

func (c *connects) trace() func(smtpkit.Event) {
	return func(ev smtpkit.Event) {
		if e, ok := ev.(smtpkit.ConnectDone); ok && e.Err == nil {
			c.mu.Lock()
			c.ok++
			c.mu.Unlock()
		}
	}
}

func (c *connects) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok
}

// waitFor polls cond until it holds, failing the test if the test's context ends first.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := testContext(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// checkRequests fails the test unless the proxy got n requests (n < 0: at
// least one), each granted, for target, with the credentials it requires.
func checkRequests(t *testing.T, p *smtptest.Proxy, cfg smtptest.ProxyConfig, target string, n int) {
	t.Helper()
	reqs := p.Requests()
	if n >= 0 && len(reqs) != n || len(reqs) == 0 {
		t.Errorf("the proxy got %d requests, want %d: %+v", len(reqs), n, reqs)
	}
	for _, r := range reqs {
		want := cfg.Password
		if p.Protocol == "socks4" {
			want = ""
		}
		if r.Target != target || !r.Granted || r.Username != cfg.Username || r.Password != want {
			t.Errorf("the proxy got %+v; want a granted request for %s from %q", r, target, cfg.Username)
		}
	}
}

// TestProxyEveryMode reaches every kind of server in every mode that suits
// it through every kind of proxy, and checks that the proxy carried the
// connections, with the credentials, and that the password shows nowhere.
func TestProxyEveryMode(t *testing.T) {
	modes := []struct {
		mode   smtpkit.Security
		server smtptest.Security
		want   smtpkit.Security
	}{
		{smtpkit.SecurityNone, smtptest.Plain, smtpkit.SecurityNone},
		{smtpkit.SecurityStartTLSIfOffered, smtptest.StartTLS, smtpkit.SecurityStartTLS},
		{smtpkit.SecurityStartTLS, smtptest.StartTLS, smtpkit.SecurityStartTLS},
		{smtpkit.SecurityImplicitTLS, smtptest.ImplicitTLS, smtpkit.SecurityImplicitTLS},
		{smtpkit.SecurityAuto, smtptest.Plain, smtpkit.SecurityNone},
		{smtpkit.SecurityAuto, smtptest.StartTLS, smtpkit.SecurityStartTLS},
		{smtpkit.SecurityAuto, smtptest.ImplicitTLS, smtpkit.SecurityImplicitTLS},
		{smtpkit.SecurityTLSAuto, smtptest.StartTLS, smtpkit.SecurityStartTLS},
		{smtpkit.SecurityTLSAuto, smtptest.ImplicitTLS, smtpkit.SecurityImplicitTLS},
	}
	for _, k := range proxyKinds {
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s/%s/%s", k.name, m.mode, m.server), func(t *testing.T) {
				srv := smtptest.NewServer(m.server)
				defer srv.Close()
				p := k.start(k.cfg)
				defer p.Close()
				var transcript safeBuffer
				var n connects
				c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
					Security:   m.mode,
					TLSConfig:  smtptest.ClientTLSConfig(),
					Proxy:      p.URL(),
					Transcript: &transcript,
					Trace:      n.trace(),
				})
				if err != nil {
					t.Fatal(err)
				}
				if c.Security() != m.want {
					t.Errorf("Security() = %s, want %s", c.Security(), m.want)
				}
				if err := c.Noop(testContext(t)); err != nil {
					t.Errorf("NOOP through the proxy: %v", err)
				}
				if err := c.Quit(testContext(t)); err != nil {
					t.Errorf("QUIT: %v", err)
				}
				want := 1
				if m.mode == smtpkit.SecurityAuto || m.mode == smtpkit.SecurityTLSAuto {
					want = -1 // Auto may open a second connection
				}
				checkRequests(t, p, k.cfg, srv.Addr, want)
				if got, opened := len(p.Requests()), n.count(); got < opened {
					t.Errorf("the client opened %d connections, the proxy carried %d", opened, got)
				}
				tr := transcript.String()
				if !strings.Contains(tr, "* connecting to "+srv.Addr+" through the proxy "+p.Protocol+"://") {
					t.Errorf("the transcript does not name the proxy:\n%s", tr)
				}
				if strings.Contains(tr, proxyPassword) {
					t.Errorf("the transcript shows the proxy's password:\n%s", tr)
				}
			})
		}
	}
}

// TestProxyAutoRace: against an implicit-TLS server on a port without a
// convention, Auto waits for a greeting on one connection and tries TLS on
// a second at once. Both must go through the proxy.
func TestProxyAutoRace(t *testing.T) {
	for _, k := range proxyKinds {
		t.Run(k.name, func(t *testing.T) {
			srv := smtptest.NewServer(smtptest.ImplicitTLS)
			defer srv.Close()
			p := k.start(k.cfg)
			defer p.Close()
			var n connects
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
				Security:  smtpkit.SecurityAuto,
				TLSConfig: smtptest.ClientTLSConfig(),
				Proxy:     p.URL(),
				Trace:     n.trace(),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Security() != smtpkit.SecurityImplicitTLS {
				t.Errorf("Security() = %s", c.Security())
			}
			// The plaintext attempt never gets a greeting, so both connections
			// were up before the TLS one won.
			if n.count() != 2 {
				t.Errorf("%d connections opened, want 2", n.count())
			}
			checkRequests(t, p, k.cfg, srv.Addr, 2)
			waitFor(t, "the server to accept both proxied connections", func() bool { return srv.Connections() >= 2 })
			if got := srv.Connections(); got != 2 {
				t.Errorf("the server got %d connections, want the proxy's 2", got)
			}
		})
	}
}

// TestProxyAutoConventionalPort: on port 587 Auto waits for the greeting
// before it tries TLS, through the proxy as directly: one connection.
func TestProxyAutoConventionalPort(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	p := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{
		// The proxy resolves the name, as socks5h asks, to the test server.
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			if addr != "mail.test:587" {
				return nil, fmt.Errorf("unexpected target %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", srv.Addr)
		},
	})
	defer p.Close()
	tlsConfig := smtptest.ClientTLSConfig()
	tlsConfig.ServerName = "localhost"
	c, err := smtpkit.Dial(testContext(t), "mail.test:587", &smtpkit.Options{
		Security:  smtpkit.SecurityAuto,
		TLSConfig: tlsConfig,
		Proxy:     "socks5h://" + p.Addr,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Security() != smtpkit.SecurityStartTLS {
		t.Errorf("Security() = %s", c.Security())
	}
	checkRequests(t, p, smtptest.ProxyConfig{}, "mail.test:587", 1)
}

// TestProxyRefusal: a proxy that will not connect gives an Error of the
// connect phase wrapping the proxy's, and Dial tries nothing else.
func TestProxyRefusal(t *testing.T) {
	for _, k := range proxyKinds {
		for _, mode := range []smtpkit.Security{smtpkit.SecurityStartTLS, smtpkit.SecurityAuto} {
			t.Run(k.name+"/"+mode.String(), func(t *testing.T) {
				srv := smtptest.NewServer(smtptest.StartTLS)
				defer srv.Close()
				cfg := k.cfg
				cfg.Refuse = true
				p := k.start(cfg)
				defer p.Close()
				_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: mode, Proxy: p.URL()})
				if !errors.Is(err, proxy.ErrRefused) {
					t.Errorf("err = %v, want proxy.ErrRefused", err)
				}
				var pe *proxy.Error
				if !errors.As(err, &pe) || pe.Target != srv.Addr {
					t.Errorf("err = %v, want a *proxy.Error for target %s", err, srv.Addr)
				}
				if phaseOf(t, err) != smtpkit.PhaseConnect {
					t.Errorf("phase %s, want connect", phaseOf(t, err))
				}
				if n := p.Connections(); n != 1 {
					t.Errorf("%d connections to the proxy, want 1", n)
				}
				if n := srv.Connections(); n != 0 {
					t.Errorf("%d connections reached the server", n)
				}
			})
		}
	}
}

// TestProxyCredentials: wrong or missing credentials are the proxy's
// sentinels, and the password is in no error.
func TestProxyCredentials(t *testing.T) {
	tests := []struct {
		name  string
		start func(smtptest.ProxyConfig) *smtptest.Proxy
		url   func(p *smtptest.Proxy) string
		want  error
	}{
		{"socks5 wrong password", smtptest.NewSOCKS5Proxy,
			func(p *smtptest.Proxy) string { return "socks5://alice:" + proxyPassword + "-wrong@" + p.Addr }, proxy.ErrAuthFailed},
		{"socks5 no credentials", smtptest.NewSOCKS5Proxy,
			func(p *smtptest.Proxy) string { return "socks5://" + p.Addr }, proxy.ErrAuthRequired},
		{"http wrong password", smtptest.NewHTTPProxy,
			func(p *smtptest.Proxy) string { return "http://alice:" + proxyPassword + "-wrong@" + p.Addr }, proxy.ErrAuthFailed},
		{"http no credentials", smtptest.NewHTTPProxy,
			func(p *smtptest.Proxy) string { return "http://" + p.Addr }, proxy.ErrAuthRequired},
		{"socks4 wrong user", smtptest.NewSOCKS4Proxy,
			func(p *smtptest.Proxy) string { return "socks4://bob@" + p.Addr }, proxy.ErrAuthFailed},
	}
	for _, tt := range tests {
		for _, mode := range []smtpkit.Security{smtpkit.SecurityImplicitTLS, smtpkit.SecurityTLSAuto} {
			t.Run(tt.name+"/"+mode.String(), func(t *testing.T) {
				srv := smtptest.NewServer(smtptest.ImplicitTLS)
				defer srv.Close()
				p := tt.start(smtptest.ProxyConfig{Username: "alice", Password: proxyPassword})
				defer p.Close()
				var transcript safeBuffer
				_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
					Security: mode, Proxy: tt.url(p), Transcript: &transcript,
				})
				if !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
				if phaseOf(t, err) != smtpkit.PhaseConnect {
					t.Errorf("phase %s, want connect", phaseOf(t, err))
				}
				if strings.Contains(err.Error(), proxyPassword) || strings.Contains(fmt.Sprintf("%#v", err), proxyPassword) {
					t.Errorf("the error shows the password: %v", err)
				}
				if strings.Contains(transcript.String(), proxyPassword) {
					t.Errorf("the transcript shows the password:\n%s", transcript.String())
				}
				if n := srv.Connections(); n != 0 {
					t.Errorf("%d connections reached the server", n)
				}
			})
		}
	}
}

// mustNotDial is a Dialer that fails the test when used.
type mustNotDial struct{ t *testing.T }

func (d mustNotDial) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.t.Errorf("dialled %s", addr)
	return nil, errors.New("must not dial")
}

// TestProxyBadURL: a proxy URL that cannot be used fails Dial before any
// connection, saying why, without the password.
func TestProxyBadURL(t *testing.T) {
	for _, url := range []string{
		"socks5://alice:" + proxyPassword + "@",
		"gopher://alice:" + proxyPassword + "@proxy.test:70",
		"http://alice:" + proxyPassword + "@proxy.test:99999",
		"socks5://alice:" + proxyPassword + "%zz@proxy.test:1080",
		"socks4://alice:" + proxyPassword + "@proxy.test:1080",
		"http://alice:" + proxyPassword + "@proxy.test:3128/path",
	} {
		t.Run(url, func(t *testing.T) {
			c, err := smtpkit.Dial(testContext(t), "127.0.0.1:25", &smtpkit.Options{
				Security: smtpkit.SecurityAuto, Proxy: url, Dialer: mustNotDial{t},
			})
			if !errors.Is(err, proxy.ErrInvalidArgument) {
				t.Errorf("err = %v, want proxy.ErrInvalidArgument", err)
			}
			checkOptionError(t, c, err, "Proxy", "Options.Proxy")
			if err != nil && strings.Contains(err.Error(), proxyPassword) {
				t.Errorf("error %q shows the password or does not name Options.Proxy", err)
			}
		})
	}
}

// TestProxyHangs: a proxy that never answers its handshake is cut short by
// the context, by ConnectTimeout and by Options.Timeout.
func TestProxyHangs(t *testing.T) {
	for _, k := range proxyKinds {
		t.Run(k.name+"/cancelled", func(t *testing.T) {
			cfg := k.cfg
			cfg.Hang = true
			p := k.start(cfg)
			defer p.Close()
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			go func() {
				select {
				case <-p.Hanging():
					cancel()
				case <-ctx.Done():
				}
			}()
			_, err := smtpkit.Dial(ctx, "127.0.0.1:25", &smtpkit.Options{
				Security: smtpkit.SecurityAuto, Proxy: p.URL(), ConnectTimeout: time.Minute,
			})
			if !errors.Is(err, context.Canceled) || !errors.As(err, new(*proxy.Error)) {
				t.Errorf("err = %v, want context.Canceled from the proxy's handshake", err)
			}
			if err != nil && phaseOf(t, err) != smtpkit.PhaseConnect {
				t.Errorf("phase %s, want connect", phaseOf(t, err))
			}
		})
		t.Run(k.name+"/connect timeout", func(t *testing.T) {
			cfg := k.cfg
			cfg.Hang = true
			p := k.start(cfg)
			defer p.Close()
			_, err := smtpkit.Dial(testContext(t), "127.0.0.1:25", &smtpkit.Options{
				Security: smtpkit.SecurityNone, Proxy: p.URL(), ConnectTimeout: 50 * time.Millisecond,
			})
			if !errors.Is(err, smtpkit.ErrConnectTimeout) || !errors.As(err, new(*proxy.Error)) {
				t.Errorf("err = %v, want ErrConnectTimeout with the proxy's error", err)
			}
		})
	}
	// A SOCKS5 proxy that accepts and then says nothing is given the
	// greeting's limit, not the connect limit: its silence involves no
	// remote host.
	t.Run("socks5 handshake limit", func(t *testing.T) {
		p := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{Hang: true})
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := smtpkit.Dial(ctx, "127.0.0.1:25", &smtpkit.Options{
			Security: smtpkit.SecurityNone, Proxy: p.URL(), GreetingTimeout: 200 * time.Millisecond,
		})
		if !errors.Is(err, proxy.ErrHandshakeTimeout) || phaseOf(t, err) != smtpkit.PhaseConnect {
			t.Errorf("err = %v, want proxy.ErrHandshakeTimeout in phase connect", err)
		}
		if ctx.Err() != nil {
			t.Error("Dial ran until the test's deadline: the handshake limit did not apply")
		}
	})
	t.Run("operation timeout", func(t *testing.T) {
		p := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{Hang: true})
		defer p.Close()
		_, err := smtpkit.Dial(testContext(t), "127.0.0.1:25", &smtpkit.Options{
			Security: smtpkit.SecurityNone, Proxy: p.URL(), Timeout: 50 * time.Millisecond,
		})
		if !errors.Is(err, smtpkit.ErrOperationTimeout) || !errors.As(err, new(*proxy.Error)) {
			t.Errorf("err = %v, want ErrOperationTimeout with the proxy's error", err)
		}
	})
}

// TestProxyFromEnvironment: ALL_PROXY is used only when asked for, NO_PROXY
// is honoured, and Options.Proxy wins over the environment.
func TestProxyFromEnvironment(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	env := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{})
	defer env.Close()
	explicit := smtptest.NewHTTPProxy(smtptest.ProxyConfig{})
	defer explicit.Close()
	for _, v := range []string{"ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(v, "")
	}
	t.Setenv("ALL_PROXY", env.URL())
	tests := []struct {
		name            string
		opts            smtpkit.Options
		noProxy         string
		envN, explicitN int
	}{
		{"environment ignored", smtpkit.Options{}, "", 0, 0},
		{"environment asked for", smtpkit.Options{ProxyFromEnvironment: true}, "", 1, 0},
		{"NO_PROXY lists the server", smtpkit.Options{ProxyFromEnvironment: true}, "127.0.0.1", 0, 0},
		{"Options.Proxy wins", smtpkit.Options{ProxyFromEnvironment: true, Proxy: explicit.URL()}, "", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_PROXY", tt.noProxy)
			envBefore, explicitBefore := len(env.Requests()), len(explicit.Requests())
			opts := tt.opts
			opts.Security = smtpkit.SecurityNone
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &opts)
			if err != nil {
				t.Fatal(err)
			}
			c.Quit(testContext(t))
			if n := len(env.Requests()) - envBefore; n != tt.envN {
				t.Errorf("%d requests to the ALL_PROXY proxy, want %d", n, tt.envN)
			}
			if n := len(explicit.Requests()) - explicitBefore; n != tt.explicitN {
				t.Errorf("%d requests to the Options.Proxy proxy, want %d", n, tt.explicitN)
			}
		})
	}
}

// recordingDialer dials as asked and records the addresses.
type recordingDialer struct {
	mu    sync.Mutex
	addrs []string
}

func (d *recordingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// TestProxyOverOptionsDialer: Options.Dialer reaches the proxy.
func TestProxyOverOptionsDialer(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	p := smtptest.NewSOCKS4Proxy(smtptest.ProxyConfig{})
	defer p.Close()
	d := &recordingDialer{}
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, Proxy: p.URL(), Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	c.Quit(testContext(t))
	if len(d.addrs) != 1 || d.addrs[0] != p.Addr {
		t.Errorf("Options.Dialer was asked for %q, want only the proxy %s", d.addrs, p.Addr)
	}
	checkRequests(t, p, smtptest.ProxyConfig{}, srv.Addr, 1)
}

// need127002 skips the test unless 127.0.0.2 can be bound, as on Linux.
func need127002(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 is not a local address here: %v", err)
	}
	ln.Close()
}

// peerServer is a plaintext server that records each client's address and EHLO.
type peerServer struct {
	*smtptest.RawServer
	mu    sync.Mutex
	peers []string
	ehlos []string
}

func newPeerServer() *peerServer {
	s := &peerServer{}
	s.RawServer = smtptest.NewRawServer(func(c *smtptest.RawConn) {
		host, _, _ := net.SplitHostPort(c.Conn().RemoteAddr().String())
		s.mu.Lock()
		s.peers = append(s.peers, host)
		s.mu.Unlock()
		if c.Send("220 peer.test ESMTP") != nil {
			return
		}
		ehlo, err := c.Expect("EHLO")
		if err != nil {
			return
		}
		s.mu.Lock()
		s.ehlos = append(s.ehlos, ehlo)
		s.mu.Unlock()
		if c.Send("250 peer.test") == nil {
			c.WaitClose()
		}
	})
	return s
}

func (s *peerServer) seen() (peers, ehlos []string) {
	s.Close() // waits for the handlers
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers, s.ehlos
}

func TestLocalAddrIsTheSource(t *testing.T) {
	need127002(t)
	for _, local := range []string{"127.0.0.2", "127.0.0.2:0"} {
		t.Run(local, func(t *testing.T) {
			srv := newPeerServer()
			defer srv.Close()
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, LocalAddr: local})
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			peers, ehlos := srv.seen()
			if len(peers) != 1 || peers[0] != "127.0.0.2" {
				t.Errorf("the server saw clients from %q, want 127.0.0.2", peers)
			}
			if len(ehlos) != 1 || ehlos[0] != "EHLO [127.0.0.2]" {
				t.Errorf("EHLO lines %q, want the bound address literal", ehlos)
			}
		})
	}
}

// TestLocalAddrToTheProxy: with a proxy, the connection to the proxy is the bound one.
func TestLocalAddrToTheProxy(t *testing.T) {
	need127002(t)
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	p := smtptest.NewHTTPProxy(smtptest.ProxyConfig{})
	defer p.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security: smtpkit.SecurityNone, Proxy: p.URL(), LocalAddr: "127.0.0.2",
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Quit(testContext(t))
	reqs := p.Requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Client, "127.0.0.2:") {
		t.Errorf("the proxy got %+v, want one request from 127.0.0.2", reqs)
	}
}

// bindRecorder is a BindLocal that records the remote addresses it is given.
type bindRecorder struct {
	mu      sync.Mutex
	remotes []string
	local   *net.TCPAddr
}

func (b *bindRecorder) bind(remote *net.TCPAddr) *net.TCPAddr {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.remotes = append(b.remotes, remote.String())
	return b.local
}

func (b *bindRecorder) calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.remotes...)
}

// TestBindLocalEveryAttempt: BindLocal chooses the local address of each
// of Auto's racing connections, from the server's address or, with a
// proxy, the proxy's.
func TestBindLocalEveryAttempt(t *testing.T) {
	need127002(t)
	for _, viaProxy := range []bool{false, true} {
		t.Run(fmt.Sprintf("proxy=%v", viaProxy), func(t *testing.T) {
			srv := smtptest.NewServer(smtptest.ImplicitTLS)
			defer srv.Close()
			b := &bindRecorder{local: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			opts := &smtpkit.Options{Security: smtpkit.SecurityAuto, TLSConfig: smtptest.ClientTLSConfig(), BindLocal: b.bind}
			remote := srv.Addr
			var p *smtptest.Proxy
			if viaProxy {
				p = smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{})
				defer p.Close()
				opts.Proxy = p.URL()
				remote = p.Addr
			}
			c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if got := b.calls(); len(got) != 2 || got[0] != remote || got[1] != remote {
				t.Errorf("BindLocal was called with %q, want %s twice", got, remote)
			}
			if p != nil {
				for _, r := range p.Requests() {
					if !strings.HasPrefix(r.Client, "127.0.0.2:") {
						t.Errorf("the proxy got a request from %s, want 127.0.0.2", r.Client)
					}
				}
			}
		})
	}
}

// TestBindLocalNil: a nil choice lets the system choose.
func TestBindLocalNil(t *testing.T) {
	srv := newPeerServer()
	defer srv.Close()
	b := &bindRecorder{}
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, BindLocal: b.bind})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if peers, _ := srv.seen(); len(peers) != 1 || peers[0] != "127.0.0.1" || len(b.calls()) != 1 {
		t.Errorf("server saw %q, BindLocal called with %q", peers, b.calls())
	}
}

// TestLocalAddrNotOnThisMachine: binding to an address the machine does
// not have fails clearly in the connect phase, and nothing is sent anywhere.
func TestLocalAddrNotOnThisMachine(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_nonlocal_bind"); err == nil && strings.TrimSpace(string(b)) != "0" {
		t.Skip("net.ipv4.ip_nonlocal_bind is on: any address can be bound")
	}
	const want = "cannot bind to 192.0.2.7: the address is not on this machine (bind: cannot assign requested address)"
	for _, viaProxy := range []bool{false, true} {
		for _, mode := range []smtpkit.Security{smtpkit.SecurityNone, smtpkit.SecurityAuto} {
			t.Run(fmt.Sprintf("%s/proxy=%v", mode, viaProxy), func(t *testing.T) {
				srv := smtptest.NewServer(smtptest.Plain)
				defer srv.Close()
				opts := &smtpkit.Options{Security: mode, LocalAddr: "192.0.2.7"}
				p := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{})
				defer p.Close()
				if viaProxy {
					opts.Proxy = p.URL()
				}
				_, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
				if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.EADDRNOTAVAIL) {
					t.Errorf("err = %v, want %q", err, want)
				}
				if err != nil && phaseOf(t, err) != smtpkit.PhaseConnect {
					t.Errorf("phase %s, want connect", phaseOf(t, err))
				}
				if srv.Connections() != 0 || p.Connections() != 0 {
					t.Errorf("connections: %d to the server, %d to the proxy; want none", srv.Connections(), p.Connections())
				}
			})
		}
	}
}

// TestLocalAddrInvalid: a LocalAddr that is not an IP (or IP:port), or one
// with a Dialer of the caller's, fails before any connection.
func TestLocalAddrInvalid(t *testing.T) {
	tests := []struct {
		opts smtpkit.Options
		want string
	}{
		{smtpkit.Options{LocalAddr: "mail.example.com"}, `Options.LocalAddr "mail.example.com": "mail.example.com" is not an IP address`},
		{smtpkit.Options{LocalAddr: "127.0.0.1:smtp"}, "is not an IP address or IP:port"},
		{smtpkit.Options{LocalAddr: "300.1.2.3"}, "is not an IP address or IP:port"},
		{smtpkit.Options{LocalAddr: "127.0.0.1", Dialer: mustNotDial{t}}, "set the local address in your Dialer"},
		{smtpkit.Options{BindLocal: func(*net.TCPAddr) *net.TCPAddr { return nil }, Dialer: mustNotDial{t}}, "set the local address in your Dialer"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			c, err := smtpkit.Dial(testContext(t), "127.0.0.1:1", &tt.opts)
			field := "LocalAddr"
			if tt.opts.Dialer != nil {
				field = "Dialer"
			}
			checkOptionError(t, c, err, field, tt.want)
		})
	}
}
