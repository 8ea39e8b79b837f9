package proxy

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestConfigParse proves that Config gives its Forward and HandshakeTimeout
// to the dialers Parse builds, that its zero value builds what Parse builds,
// and that a negative HandshakeTimeout is refused.
func TestConfigParse(t *testing.T) {
	forward := &net.Dialer{}
	c := Config{Forward: forward, HandshakeTimeout: 3 * time.Second}
	tests := []struct {
		url  string
		want ContextDialer
	}{
		{"socks4a://bob@proxy.test", &SOCKS4{Addr: "proxy.test:1080", UserID: "bob", RemoteResolve: true, Forward: forward}},
		{"socks5h://alice:secret@proxy.test", &SOCKS5{Addr: "proxy.test:1080", Username: "alice", Password: "secret",
			RemoteResolve: true, Forward: forward, HandshakeTimeout: 3 * time.Second}},
		{"http://proxy.test", &HTTP{Addr: "proxy.test:8080", Forward: forward, HandshakeTimeout: 3 * time.Second}},
	}
	for _, tt := range tests {
		got, err := c.Parse(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if !sameDialer(got, tt.want) {
			t.Errorf("%s: got %#v; want %#v", tt.url, got, tt.want)
		}
		zero, err1 := Config{}.Parse(tt.url)
		plain, err2 := Parse(tt.url, nil)
		if err1 != nil || err2 != nil || !sameDialer(zero, plain) {
			t.Errorf("%s: Config{}.Parse gives %#v, %v; Parse gives %#v, %v", tt.url, zero, err1, plain, err2)
		}
	}
	https, err := c.Parse("https://proxy.test")
	if h, ok := https.(*HTTP); err != nil || !ok || h.TLS == nil || h.HandshakeTimeout != 3*time.Second {
		t.Errorf("https: got %#v, %v; want an *HTTP over TLS with the handshake limit", https, err)
	}
	for _, u := range []string{"socks4://proxy.test", "socks5://proxy.test", "https://proxy.test"} {
		if _, err := (Config{HandshakeTimeout: -time.Second}).Parse(u); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s with a negative HandshakeTimeout: got %v; want ErrInvalidArgument", u, err)
		}
	}
}

// sameDialer reports whether two dialers of this package have the same fields.
func sameDialer(a, b ContextDialer) bool {
	switch a := a.(type) {
	case *SOCKS4:
		b, ok := b.(*SOCKS4)
		return ok && *a == *b
	case *SOCKS5:
		b, ok := b.(*SOCKS5)
		return ok && *a == *b
	case *HTTP:
		b, ok := b.(*HTTP)
		return ok && a.Addr == b.Addr && a.Username == b.Username && a.Password == b.Password &&
			a.Forward == b.Forward && a.HandshakeTimeout == b.HandshakeTimeout && (a.TLS == nil) == (b.TLS == nil)
	}
	return false
}

// TestConfigHandshakeTimeout proves that the handshake limit set in Config
// holds for a proxy from a URL and from the environment, NO_PROXY included.
func TestConfigHandshakeTimeout(t *testing.T) {
	c := Config{HandshakeTimeout: testLimit}
	t.Run("Parse", func(t *testing.T) {
		proxy := startHangServer(t)
		d, err := c.Parse("socks5://" + proxy.addr())
		if err != nil {
			t.Fatal(err)
		}
		ctx := testContext(t)
		_, err = d.DialContext(ctx, "tcp", "192.0.2.1:25")
		wantHandshakeTimeout(t, ctx, err, "handshake", "choice of authentication method")
		proxy.waitClosed(t)
	})
	t.Run("FromEnvironment", func(t *testing.T) {
		proxy := startHangServer(t)
		setenv(t, map[string]string{"ALL_PROXY": "socks5h://" + proxy.addr(), "NO_PROXY": "internal.test"})
		d, err := c.FromEnvironment()
		if err != nil {
			t.Fatal(err)
		}
		ctx := testContext(t)
		_, err = d.DialContext(ctx, "tcp", "mail.test:25")
		wantHandshakeTimeout(t, ctx, err, "handshake", "choice of authentication method")
		proxy.waitClosed(t)
	})
}
