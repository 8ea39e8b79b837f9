package smtptest_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/proxy"
	"github.com/smtpkit/smtpkit/smtptest"
)

func proxyContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialVia dials target through the proxy at rawURL.
func dialVia(t *testing.T, ctx context.Context, rawURL, target string) (net.Conn, error) {
	t.Helper()
	d, err := proxy.Parse(rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d.DialContext(ctx, "tcp", target)
}

func TestProxiesRelayAndRecord(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if c.Send("220 through") == nil {
			c.WaitClose()
		}
	})
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Addr)
	tests := []struct {
		name   string
		start  func(smtptest.ProxyConfig) *smtptest.Proxy
		scheme string // replaces the URL's scheme
		target string // the target as the client names it
		cfg    smtptest.ProxyConfig
	}{
		{"socks5", smtptest.NewSOCKS5Proxy, "socks5", srv.Addr, smtptest.ProxyConfig{}},
		{"socks5h by name", smtptest.NewSOCKS5Proxy, "socks5h", "localhost:" + port, smtptest.ProxyConfig{}},
		{"socks5 with credentials", smtptest.NewSOCKS5Proxy, "socks5", srv.Addr, smtptest.ProxyConfig{Username: "u", Password: "p"}},
		{"socks4", smtptest.NewSOCKS4Proxy, "socks4", srv.Addr, smtptest.ProxyConfig{Username: "me"}},
		{"socks4a by name", smtptest.NewSOCKS4Proxy, "socks4a", "localhost:" + port, smtptest.ProxyConfig{}},
		{"http", smtptest.NewHTTPProxy, "http", srv.Addr, smtptest.ProxyConfig{}},
		{"http with credentials", smtptest.NewHTTPProxy, "http", srv.Addr, smtptest.ProxyConfig{Username: "u", Password: "p w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.start(tt.cfg)
			defer p.Close()
			u, _ := url.Parse(p.URL())
			u.Scheme = tt.scheme
			c, err := dialVia(t, proxyContext(t), u.String(), tt.target)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if line, err := bufio.NewReader(c).ReadString('\n'); line != "220 through\r\n" {
				t.Fatalf("read %q, %v through the proxy", line, err)
			}
			want := smtptest.ProxyRequest{Target: tt.target, Username: tt.cfg.Username, Granted: true}
			if tt.scheme != "socks4" {
				want.Password = tt.cfg.Password
			}
			got := p.Requests()
			if len(got) == 1 {
				got[0].Client = "" // the client's ephemeral port
			}
			if len(got) != 1 || got[0] != want {
				t.Errorf("Requests() = %+v, want [%+v]", got, want)
			}
		})
	}
}

func TestProxiesRefuse(t *testing.T) {
	for _, start := range []func(smtptest.ProxyConfig) *smtptest.Proxy{
		smtptest.NewSOCKS5Proxy, smtptest.NewSOCKS4Proxy, smtptest.NewHTTPProxy,
	} {
		p := start(smtptest.ProxyConfig{Refuse: true})
		defer p.Close()
		t.Run(p.Protocol, func(t *testing.T) {
			_, err := dialVia(t, proxyContext(t), p.URL(), "127.0.0.1:25")
			if !errors.Is(err, proxy.ErrRefused) {
				t.Errorf("err = %v, want proxy.ErrRefused", err)
			}
			if got := p.Requests(); len(got) != 1 || got[0].Granted {
				t.Errorf("Requests() = %+v, want one not granted", got)
			}
		})
	}
}

func TestProxiesCheckCredentials(t *testing.T) {
	for _, start := range []func(smtptest.ProxyConfig) *smtptest.Proxy{
		smtptest.NewSOCKS5Proxy, smtptest.NewSOCKS4Proxy, smtptest.NewHTTPProxy,
	} {
		p := start(smtptest.ProxyConfig{Username: "right", Password: "right"})
		defer p.Close()
		t.Run(p.Protocol, func(t *testing.T) {
			wrong := strings.Replace(p.URL(), "right", "wrong", 1)
			_, err := dialVia(t, proxyContext(t), wrong, "127.0.0.1:25")
			if !errors.Is(err, proxy.ErrAuthFailed) {
				t.Errorf("err = %v, want proxy.ErrAuthFailed", err)
			}
			if got := p.Requests(); len(got) != 1 || got[0].Username != "wrong" || got[0].Granted {
				t.Errorf("Requests() = %+v, want one from user wrong, not granted", got)
			}
		})
	}
}

func TestProxyReachesOnlyLoopback(t *testing.T) {
	p := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{})
	defer p.Close()
	_, err := dialVia(t, proxyContext(t), p.URL(), "192.0.2.1:25")
	if !errors.Is(err, proxy.ErrRefused) {
		t.Errorf("err = %v, want proxy.ErrRefused", err)
	}
}

func TestProxyHangs(t *testing.T) {
	p := smtptest.NewHTTPProxy(smtptest.ProxyConfig{Hang: true})
	defer p.Close()
	ctx, cancel := context.WithCancel(proxyContext(t))
	go func() {
		select {
		case <-p.Hanging():
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := dialVia(t, ctx, p.URL(), "127.0.0.1:25")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(p.Requests()); n != 0 {
		t.Errorf("%d requests recorded; a hanging proxy records none", n)
	}
}
