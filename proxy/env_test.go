package proxy

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
)

// setenv sets the proxy variables for one test; unset ones are emptied.
func setenv(t *testing.T, vars map[string]string) {
	for _, name := range []string{"ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(name, vars[name])
	}
}

// TestFromEnvironment proves which variables are read, that the forward
// dialer comes back when no proxy applies, and that a bad URL is an error
// naming the variable without the password.
func TestFromEnvironment(t *testing.T) {
	forward := &net.Dialer{}
	t.Run("nothing set", func(t *testing.T) {
		setenv(t, nil)
		got, err := FromEnvironment(forward)
		if err != nil || got != forward {
			t.Fatalf("got %v, %v; want the forward dialer", got, err)
		}
		got, err = FromEnvironment(nil)
		if _, ok := got.(*net.Dialer); err != nil || !ok {
			t.Fatalf("got %T, %v; want a *net.Dialer", got, err)
		}
	})
	t.Run("ALL_PROXY", func(t *testing.T) {
		setenv(t, map[string]string{"ALL_PROXY": "socks5h://alice:secret@proxy.test", "all_proxy": "http://other.test"})
		got, err := FromEnvironment(forward)
		want := &SOCKS5{Addr: "proxy.test:1080", Username: "alice", Password: "secret", RemoteResolve: true, Forward: forward}
		if err != nil || *got.(*SOCKS5) != *want {
			t.Fatalf("got %#v, %v; want %#v", got, err, want)
		}
	})
	t.Run("all_proxy", func(t *testing.T) {
		setenv(t, map[string]string{"all_proxy": "http://proxy.test:3128"})
		got, err := FromEnvironment(forward)
		if h, ok := got.(*HTTP); err != nil || !ok || h.Addr != "proxy.test:3128" {
			t.Fatalf("got %#v, %v", got, err)
		}
	})
	t.Run("NO_PROXY is *", func(t *testing.T) {
		setenv(t, map[string]string{"ALL_PROXY": "socks5://proxy.test", "no_proxy": "*"})
		got, err := FromEnvironment(forward)
		if err != nil || got != forward {
			t.Fatalf("got %v, %v; want the forward dialer", got, err)
		}
	})
	t.Run("NO_PROXY list", func(t *testing.T) {
		setenv(t, map[string]string{"ALL_PROXY": "socks5://alice:secret@proxy.test", "NO_PROXY": "internal.test"})
		got, err := FromEnvironment(forward)
		if _, ok := got.(*envDialer); err != nil || !ok {
			t.Fatalf("got %T, %v; want an *envDialer", got, err)
		}
		s := got.(*envDialer).String()
		if !strings.Contains(s, "socks5://alice:xxxxx@proxy.test:1080") || !strings.Contains(s, "internal.test") {
			t.Errorf("String() = %q", s)
		}
	})
	t.Run("bad URL", func(t *testing.T) {
		setenv(t, map[string]string{"ALL_PROXY": "ftp://alice:secret@proxy.test"})
		_, err := FromEnvironment(forward)
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "ALL_PROXY") || strings.Contains(err.Error(), "secret") {
			t.Fatalf("got %v; want ErrInvalidArgument naming ALL_PROXY, without the password", err)
		}
	})
}

// offlineForward records the addresses it is asked for and connects to none.
type offlineForward struct {
	mu    sync.Mutex
	addrs []string
}

var errOffline = errors.New("test: no network")

func (d *offlineForward) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs = append(d.addrs, addr)
	return nil, errOffline
}

// TestFromEnvironmentBypass proves that targets NO_PROXY lists are dialled
// directly and the others through the proxy.
func TestFromEnvironmentBypass(t *testing.T) {
	setenv(t, map[string]string{"ALL_PROXY": "socks5h://proxy.test:1080", "NO_PROXY": ".internal.test, 192.0.2.0/24"})
	forward := &offlineForward{}
	d, err := FromEnvironment(forward)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"mail.internal.test:25", "192.0.2.7:587", "mail.example.com:465"} {
		if _, err := d.DialContext(testContext(t), "tcp", target); !errors.Is(err, errOffline) {
			t.Fatalf("dial %s: got %v; want the forward dialer's error", target, err)
		}
	}
	want := []string{"mail.internal.test:25", "192.0.2.7:587", "proxy.test:1080"}
	if !slices.Equal(forward.addrs, want) {
		t.Errorf("dialled %q; want %q", forward.addrs, want)
	}
}

// TestNoProxy proves how NO_PROXY entries match targets: hosts and their
// subdomains, subdomains only, addresses, CIDR prefixes, ports and "*";
// names are never resolved.
func TestNoProxy(t *testing.T) {
	tests := []struct {
		list, host, port string
		want             bool
	}{
		{"example.com", "example.com", "25", true},
		{"example.com", "mail.example.com", "25", true},
		{"example.com", "MAIL.Example.COM.", "25", true},
		{"example.com", "badexample.com", "25", false},
		{"example.com", "example.org", "25", false},
		{".example.com", "example.com", "25", false},
		{".example.com", "mail.example.com", "25", true},
		{"*.example.com", "example.com", "25", false},
		{"*.example.com", "a.b.example.com", "25", true},
		{"example.com.", "mail.example.com", "25", true},
		{"example.com:25", "mail.example.com", "25", true},
		{"example.com:25", "mail.example.com", "587", false},
		{"192.0.2.1", "192.0.2.1", "25", true},
		{"192.0.2.1", "192.0.2.2", "25", false},
		{"192.0.2.1", "::ffff:192.0.2.1", "25", true},
		{"192.0.2.1:25", "192.0.2.1", "587", false},
		{"10.0.0.0/8", "10.1.2.3", "25", true},
		{"10.0.0.0/8", "11.0.0.1", "25", false},
		{"10.0.0.0/8", "10.example", "25", false},
		{"2001:db8::/32", "2001:db8::25", "25", true},
		{"::1", "::1", "25", true},
		{"[::1]", "::1", "25", true},
		{"[::1]:25", "::1", "25", true},
		{"[::1]:25", "::1", "587", false},
		{"localhost", "localhost", "25", true},
		{"localhost", "127.0.0.1", "25", false},
		{" example.com , other.test ", "other.test", "25", true},
		{"*", "anything.test", "25", true},
		{"example.com, *", "anything.test", "25", true},
		{"", "example.com", "25", false},
		{"*foo, bad/entry", "foo", "25", false},
	}
	for _, tt := range tests {
		if got := parseNoProxy(tt.list).matches(tt.host, tt.port); got != tt.want {
			t.Errorf("NO_PROXY %q, target %s port %s: got %v, want %v", tt.list, tt.host, tt.port, got, tt.want)
		}
	}
}
