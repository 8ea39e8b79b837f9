package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestParse proves that each scheme gives the right dialer, with default
// ports, percent-decoded credentials and the caller's forward dialer.
func TestParse(t *testing.T) {
	forward := &net.Dialer{}
	tests := []struct {
		url  string
		want ContextDialer
	}{
		{"socks4://proxy.test", &SOCKS4{Addr: "proxy.test:1080", Forward: forward}},
		{"socks4a://bob@proxy.test:1081", &SOCKS4{Addr: "proxy.test:1081", UserID: "bob", RemoteResolve: true, Forward: forward}},
		{"socks5://proxy.test", &SOCKS5{Addr: "proxy.test:1080", Forward: forward}},
		{"socks5://al%40ice:p%3Ass%2Fw%25rd@proxy.test", &SOCKS5{Addr: "proxy.test:1080", Username: "al@ice", Password: "p:ss/w%rd", Forward: forward}},
		{"SOCKS5H://[2001:db8::1]:9050", &SOCKS5{Addr: "[2001:db8::1]:9050", RemoteResolve: true, Forward: forward}},
		{"socks5h://alice@proxy.test", &SOCKS5{Addr: "proxy.test:1080", Username: "alice", RemoteResolve: true, Forward: forward}},
		{"http://proxy.test", &HTTP{Addr: "proxy.test:8080", Forward: forward}},
		{"http://alice:se%20cret@proxy.test:3128/", &HTTP{Addr: "proxy.test:3128", Username: "alice", Password: "se cret", Forward: forward}},
		{"https://proxy.test", &HTTP{Addr: "proxy.test:443", TLS: &tls.Config{}, Forward: forward}},
		{"https://192.0.2.1:8443", &HTTP{Addr: "192.0.2.1:8443", TLS: &tls.Config{}, Forward: forward}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := Parse(tt.url, forward)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
				t.Errorf("got  %+v\nwant %+v", reflect.ValueOf(got).Elem(), reflect.ValueOf(tt.want).Elem())
			}
		})
	}
}

// TestParseErrors proves that bad URLs are refused with a clear reason, and
// that the password appears in no error.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		url   string
		words string
	}{
		{"ftp://alice:secret@proxy.test", "unknown scheme \"ftp\": use socks4, socks4a, socks5, socks5h, http or https"},
		{"proxy.test:1080", "write scheme://host:port"},
		{"socks5://", "no host"},
		{"socks5://alice:secret@", "no host"},
		{"socks5://alice:secret@:1080", "no host"},
		{"http://alice:secret@proxy.test/path", "no path, query or fragment"},
		{"http://proxy.test?x=1", "no path, query or fragment"},
		{"http://proxy.test#top", "no path, query or fragment"},
		{"socks5://alice:secret@proxy.test:0", "port \"0\""},
		{"socks5://proxy.test:99999", "port \"99999\""},
		{"socks5://alice:secret@proxy.test:abc", "invalid port"},
		{"socks4://bob:secret@proxy.test", "no password"},
		{"socks5://:secret@proxy.test", "username is empty"},
		{"http://al%3Aice:secret@proxy.test", "colon"},
		{"http://alice:secret%0D%0A@proxy.test", "control character"},
		{"socks5://alice:secret%zz@proxy.test", "%-escape is malformed"},
		{"socks5://alice:se cret@proxy.test", "invalid userinfo"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := Parse(tt.url, nil)
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("got %v; want ErrInvalidArgument", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.words) {
				t.Errorf("%q does not say %q", msg, tt.words)
			}
			for _, secret := range []string{"secret", "cret", "%zz"} {
				if strings.Contains(msg, secret) {
					t.Errorf("the error shows the password: %q", msg)
				}
			}
		})
	}
	t.Run("nil URL", func(t *testing.T) {
		if _, err := FromURL(nil, nil); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("got %v; want ErrInvalidArgument", err)
		}
	})
	t.Run("FromURL with a hand-made URL", func(t *testing.T) {
		u := &url.URL{Scheme: "gopher", Host: "proxy.test", User: url.UserPassword("alice", "secret")}
		_, err := FromURL(u, nil)
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "alice:xxxxx@proxy.test") ||
			strings.Contains(err.Error(), "secret") {
			t.Fatalf("got %v; want ErrInvalidArgument naming the redacted URL", err)
		}
	})
}

// TestStringHidesPassword proves that a dialer printed with any verb, as a
// value or a pointer, or logged with log/slog, shows "xxxxx" for the
// password, never the password itself.
func TestStringHidesPassword(t *testing.T) {
	tests := []struct {
		d    any
		want string
	}{
		{SOCKS5{Addr: "proxy.test:1080", Username: "alice", Password: "secret"}, "socks5://alice:xxxxx@proxy.test:1080"},
		{&SOCKS5{Addr: "proxy.test:1080", Username: "alice", Password: "secret", RemoteResolve: true}, "socks5h://alice:xxxxx@proxy.test:1080"},
		{HTTP{Addr: "proxy.test:8080", Username: "alice", Password: "secret"}, "http://alice:xxxxx@proxy.test:8080"},
		{&HTTP{Addr: "proxy.test:443", Username: "alice", Password: "secret", TLS: &tls.Config{}}, "https://alice:xxxxx@proxy.test:443"},
		{&SOCKS4{Addr: "proxy.test:1080", UserID: "bob", RemoteResolve: true}, "socks4a://bob@proxy.test:1080"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var logs bytes.Buffer
			slog.New(slog.NewTextHandler(&logs, nil)).Info("text", "proxy", tt.d)
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("json", "proxy", tt.d)
			jsonText, _ := json.Marshal(fmt.Sprint(tt.d))
			outputs := []string{
				fmt.Sprint(tt.d),
				fmt.Sprintf("%+v", tt.d),
				fmt.Sprintf("%#v", tt.d),
				string(jsonText),
				logs.String(),
			}
			for _, out := range outputs {
				if strings.Contains(out, "secret") {
					t.Errorf("the password shows in %q", out)
				}
				if !strings.Contains(out, tt.want) {
					t.Errorf("%q does not show %q", out, tt.want)
				}
			}
		})
	}
}
