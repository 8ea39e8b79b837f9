package interop_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/proxy"
)

// Proxies: SMTP sessions with Postfix through the peers' real proxies.
//
// What the peers give (keys of peers.env; proxy user PEERS_PROXY_USER,
// password PEERS_PROXY_PASS). Every proxy reaches only 127.0.0.0/8 and
// localhost; the targets here are 2465 (implicit TLS) and 2587 (STARTTLS).
//   - PEERS_SOCKS_DANTE (Dante): SOCKS4 and SOCKS5, no auth. No SOCKS4a: a
//     SOCKS4a request is taken as a CONNECT to 0.0.0.1 and rejected (91).
//   - PEERS_SOCKS_DANTE_AUTH: SOCKS5 with username/password only; no
//     credentials gets "no acceptable method", wrong ones a rejection.
//   - PEERS_SOCKS_MICROSOCKS, PEERS_SOCKS_MICROSOCKS_AUTH: SOCKS5 only (a
//     SOCKS4 request just closes the connection); the second requires
//     username/password.
//   - PEERS_SOCKS_SSH (ssh -D): SOCKS4, SOCKS4a and SOCKS5, no auth.
//   - PEERS_HTTP_PROXY_TINYPROXY, PEERS_HTTP_PROXY_TINYPROXY_AUTH: HTTP
//     CONNECT, the second with Basic auth. No credentials gets 407, but wrong
//     credentials get 401 (not 407), in HTTP/1.0 replies.
//   - PEERS_HTTP_PROXY_SQUID, PEERS_HTTP_PROXY_SQUID_AUTH: HTTP CONNECT, the
//     second with Basic auth; no or wrong credentials get 407.

// proxyPeer is one way to use one of the peers' proxies.
type proxyPeer struct {
	name   string
	key    string // the key of its address in peers.env
	scheme string // socks4a and socks5h send the target's name: "localhost"
	auth   bool   // it requires the proxy user and password
}

var proxyPeers = []proxyPeer{
	{"dante-socks4", "PEERS_SOCKS_DANTE", "socks4", false},
	{"dante-socks5", "PEERS_SOCKS_DANTE", "socks5", false},
	{"dante-socks5-auth", "PEERS_SOCKS_DANTE_AUTH", "socks5", true},
	{"microsocks-socks5h", "PEERS_SOCKS_MICROSOCKS", "socks5h", false},
	{"microsocks-socks5-auth", "PEERS_SOCKS_MICROSOCKS_AUTH", "socks5", true},
	{"ssh-socks4a", "PEERS_SOCKS_SSH", "socks4a", false},
	{"ssh-socks5h", "PEERS_SOCKS_SSH", "socks5h", false},
	{"tinyproxy-http", "PEERS_HTTP_PROXY_TINYPROXY", "http", false},
	{"tinyproxy-http-auth", "PEERS_HTTP_PROXY_TINYPROXY_AUTH", "http", true},
	{"squid-http", "PEERS_HTTP_PROXY_SQUID", "http", false},
	{"squid-http-auth", "PEERS_HTTP_PROXY_SQUID_AUTH", "http", true},
}

// proxyNamed returns the proxy peer of that name.
func proxyNamed(name string) proxyPeer {
	for _, pp := range proxyPeers {
		if pp.name == name {
			return pp
		}
	}
	panic("no proxy peer " + name)
}

// proxyURL returns the URL of pp, with user and password when user is set.
func (p *peers) proxyURL(t *testing.T, pp proxyPeer, user, password string) string {
	t.Helper()
	u := url.URL{Scheme: pp.scheme, Host: p.addr(t, pp.key)}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// proxyTarget returns the address of the Postfix port under key as pp
// should name it: "localhost" when the proxy resolves names.
func (p *peers) proxyTarget(t *testing.T, pp proxyPeer, key string) string {
	t.Helper()
	addr := p.addr(t, key)
	if pp.scheme == "socks4a" || pp.scheme == "socks5h" {
		_, port, _ := net.SplitHostPort(addr)
		return net.JoinHostPort("localhost", port)
	}
	return addr
}

// TestProxySessions carries a whole session, AUTH and a message included,
// through every proxy of the peers to Postfix in implicit TLS and STARTTLS.
func TestProxySessions(t *testing.T) {
	p := needPeers(t)
	user, pass := p.get(t, "PEERS_PROXY_USER"), p.get(t, "PEERS_PROXY_PASS")
	for _, pp := range proxyPeers {
		for _, port := range []struct {
			key  string
			mode smtpkit.Security
		}{
			{"PEERS_SMTPS", smtpkit.SecurityImplicitTLS},
			{"PEERS_SMTP_SUBMISSION", smtpkit.SecurityStartTLS},
		} {
			t.Run(pp.name+"/"+port.mode.String(), func(t *testing.T) {
				opts := p.options(t, port.mode)
				opts.Proxy = p.proxyURL(t, pp, "", "")
				if pp.auth {
					opts.Proxy = p.proxyURL(t, pp, user, pass)
				}
				opts.Auth = &smtpkit.Auth{Username: p.get(t, "PEERS_SMTP_USER"), Password: p.get(t, "PEERS_SMTP_PASS")}
				target := p.proxyTarget(t, pp, port.key)
				c, err := smtpkit.Dial(testContext(t), target, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Quit(testContext(t))
				if c.Security() != port.mode {
					t.Errorf("Security() = %s, want %s", c.Security(), port.mode)
				}
				st, _ := c.TLSConnectionState()
				if st.Version != tls.VersionTLS13 || len(st.VerifiedChains) == 0 {
					t.Errorf("TLS %s, %d verified chains; want TLS 1.3, verified", tls.VersionName(st.Version), len(st.VerifiedChains))
				}
				marker := fmt.Sprintf("smtpkit-proxy-%s-%s-%d", pp.name, port.mode, time.Now().UnixNano())
				msg := "From: alice@example.com\r\nTo: bob@example.org\r\nSubject: " + marker + "\r\n\r\nthrough " + pp.name + "\r\n"
				if _, err := c.Send(testContext(t), &smtpkit.Envelope{From: "alice@example.com", To: []string{"bob@example.org"}},
					strings.NewReader(msg)); err != nil {
					t.Fatalf("Send through %s: %v", pp.name, err)
				}
				p.waitForMail(t, marker)
				if pp.auth && strings.Contains(opts.Transcript.(*syncBuffer).String(), pass) {
					t.Errorf("the transcript shows the proxy's password")
				}
			})
		}
	}
}

// TestProxyAuto: Auto and TLS-auto find the mode through a real proxy. On
// 2465 (no convention) a first detection races two connections; both go
// through the proxy, and each is bound as BindLocal says, to the proxy.
func TestProxyAuto(t *testing.T) {
	p := needPeers(t)
	for _, tt := range []struct {
		pp   proxyPeer
		key  string
		mode smtpkit.Security
		want smtpkit.Security
	}{
		{proxyNamed("dante-socks5"), "PEERS_SMTPS", smtpkit.SecurityAuto, smtpkit.SecurityImplicitTLS},
		{proxyNamed("squid-http"), "PEERS_SMTP_SUBMISSION", smtpkit.SecurityTLSAuto, smtpkit.SecurityStartTLS},
		{proxyNamed("ssh-socks4a"), "PEERS_SMTPS", smtpkit.SecurityTLSAuto, smtpkit.SecurityImplicitTLS},
	} {
		t.Run(tt.pp.name+"/"+tt.mode.String(), func(t *testing.T) {
			proxyAddr := p.addr(t, tt.pp.key)
			var mu sync.Mutex
			var remotes []string
			opts := p.options(t, tt.mode)
			opts.Proxy = p.proxyURL(t, tt.pp, "", "")
			opts.BindLocal = func(remote *net.TCPAddr) *net.TCPAddr {
				mu.Lock()
				defer mu.Unlock()
				remotes = append(remotes, remote.String())
				return nil
			}
			c, err := smtpkit.Dial(testContext(t), p.proxyTarget(t, tt.pp, tt.key), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit(testContext(t))
			if c.Security() != tt.want {
				t.Errorf("Security() = %s, want %s", c.Security(), tt.want)
			}
			if err := c.Noop(testContext(t)); err != nil {
				t.Error(err)
			}
			transcript := opts.Transcript.(*syncBuffer).String()
			mu.Lock()
			defer mu.Unlock()
			if len(remotes) == 0 {
				t.Fatal("BindLocal was never called")
			}
			for _, r := range remotes {
				if r != proxyAddr {
					t.Errorf("BindLocal got %s, want the proxy %s", r, proxyAddr)
				}
			}
			remembered := strings.Contains(transcript, "found earlier")
			if tt.key == "PEERS_SMTPS" && !remembered && len(remotes) != 2 {
				t.Errorf("%d connections to the proxy, want Auto's 2", len(remotes))
			}
		})
	}
}

// TestProxyRefusals: wrong or missing proxy credentials and an unreachable
// target are the proxy package's errors, in the connect phase, without the password.
func TestProxyRefusals(t *testing.T) {
	p := needPeers(t)
	user := p.get(t, "PEERS_PROXY_USER")
	const wrong = "not-the-Pr0xy-password"
	smtps := p.addr(t, "PEERS_SMTPS")
	for _, pp := range proxyPeers {
		if !pp.auth {
			continue
		}
		for _, tt := range []struct {
			name, user, pass string
			want             error
		}{
			{"wrong password", user, wrong, proxy.ErrAuthFailed},
			{"no credentials", "", "", proxy.ErrAuthRequired},
		} {
			t.Run(pp.name+"/"+tt.name, func(t *testing.T) {
				opts := p.options(t, smtpkit.SecurityAuto)
				opts.Proxy = p.proxyURL(t, pp, tt.user, tt.pass)
				_, err := smtpkit.Dial(testContext(t), smtps, opts)
				if !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
				if err != nil && phaseOf(t, err) != smtpkit.PhaseConnect {
					t.Errorf("phase %s, want connect", phaseOf(t, err))
				}
				if err != nil && strings.Contains(err.Error(), wrong) || strings.Contains(opts.Transcript.(*syncBuffer).String(), wrong) {
					t.Errorf("the password shows in the error or the transcript: %v", err)
				}
			})
		}
	}
	for _, tt := range []struct {
		name string
		want error
	}{
		{"dante-socks5", proxy.ErrRefused},
		{"tinyproxy-http", proxy.ErrRefused},
		{"squid-http", proxy.ErrRefused},
		{"ssh-socks4a", proxy.ErrProtocol}, // ssh -D hangs up without a reply
	} {
		pp := proxyNamed(tt.name)
		t.Run(pp.name+"/closed port", func(t *testing.T) {
			opts := p.options(t, smtpkit.SecurityStartTLS)
			opts.Proxy = p.proxyURL(t, pp, "", "")
			_, err := smtpkit.Dial(testContext(t), "127.0.0.1:1", opts)
			var pe *proxy.Error
			if !errors.Is(err, tt.want) || !errors.As(err, &pe) {
				t.Errorf("err = %v, want %v in a *proxy.Error", err, tt.want)
			}
		})
	}
}
