package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// socks5Config says what a test SOCKS5 proxy expects and how it answers.
type socks5Config struct {
	greeting   []byte        // the greeting expected, byte for byte
	user, pass string        // the credentials the proxy requires; empty: none
	request    []byte        // the CONNECT request expected, byte for byte
	reply      byte          // the reply code: 0 relays to backend
	backend    string        // the backend's address
	delay      time.Duration // how long to wait before the CONNECT reply
}

// socks5Server starts a SOCKS5 proxy (RFC 1928, 1929) that checks each
// message the client sends against cfg, byte for byte.
func socks5Server(t *testing.T, cfg socks5Config) *server {
	return serve(t, listen(t), func(s *server, c net.Conn) error {
		// Greeting: version 5, the number of methods, the methods.
		greeting, err := readN(c, nil, 2)
		if err == nil {
			greeting, err = readN(c, greeting, int(greeting[1]))
		}
		if err != nil {
			return fmt.Errorf("reading the greeting: %w", err)
		}
		if !bytes.Equal(greeting, cfg.greeting) {
			return fmt.Errorf("greeting\n got % x\nwant % x", greeting, cfg.greeting)
		}
		if cfg.user != "" {
			if !bytes.Contains(greeting[2:], []byte{socks5UserPass}) {
				c.Write([]byte{5, socks5NoAcceptable})
				return nil
			}
			c.Write([]byte{5, socks5UserPass})
			// RFC 1929: version 1, username length, username, password length, password.
			auth, err := readN(c, nil, 2)
			if err == nil {
				auth, err = readN(c, auth, int(auth[1])+1)
			}
			if err == nil {
				auth, err = readN(c, auth, int(auth[len(auth)-1]))
			}
			if err != nil {
				return fmt.Errorf("reading the username and password: %w", err)
			}
			want := concat([]byte{1, byte(len(cfg.user))}, []byte(cfg.user), []byte{byte(len(cfg.pass))}, []byte(cfg.pass))
			if !bytes.Equal(auth, want) {
				c.Write([]byte{1, 1}) // authentication failed
				return nil
			}
			c.Write([]byte{1, 0})
		} else {
			c.Write([]byte{5, socks5NoAuth})
		}
		// Request: version, command, reserved, address type, address, port.
		req, err := readN(c, nil, 4)
		if err == nil {
			switch req[3] {
			case 1:
				req, err = readN(c, req, 4+2)
			case 4:
				req, err = readN(c, req, 16+2)
			case 3:
				if req, err = readN(c, req, 1); err == nil {
					req, err = readN(c, req, int(req[4])+2)
				}
			default:
				err = fmt.Errorf("unknown address type %d", req[3])
			}
		}
		if err != nil {
			return fmt.Errorf("reading the request: %w", err)
		}
		if !bytes.Equal(req, cfg.request) {
			return fmt.Errorf("request\n got % x\nwant % x", req, cfg.request)
		}
		time.Sleep(cfg.delay)
		if cfg.reply != 0 {
			c.Write([]byte{5, cfg.reply, 0, 1, 0, 0, 0, 0, 0, 0})
			return nil
		}
		b, err := dialBackend(s, cfg.backend)
		if err != nil {
			return err
		}
		if _, err := c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0x12, 0x34}); err != nil {
			return err
		}
		relay(c, b)
		return nil
	})
}

// readN reads exactly n more bytes from r and appends them to b.
func readN(r io.Reader, b []byte, n int) ([]byte, error) {
	more := make([]byte, n)
	if _, err := io.ReadFull(r, more); err != nil {
		return b, err
	}
	return append(b, more...), nil
}

// exchange is one step of a scripted proxy: read exactly read bytes, then write write.
type exchange struct {
	read  int
	write []byte
}

// scriptServer starts a proxy that plays the exchanges, then closes the connection.
func scriptServer(t *testing.T, steps ...exchange) *server {
	return serve(t, listen(t), func(_ *server, c net.Conn) error {
		for _, step := range steps {
			if _, err := readN(c, nil, step.read); err != nil {
				return nil // the client gave up: what the test checks is its error
			}
			c.Write(step.write)
		}
		return nil
	})
}

// TestSOCKS5RoundTrip proves that the greeting, the credentials and the
// request are sent as RFC 1928 and 1929 say, with names resolved here for
// "socks5" and by the proxy for "socks5h", and that the tunnel then reaches
// the backend.
func TestSOCKS5RoundTrip(t *testing.T) {
	backend := startBackend(t)
	p := []byte{byte(port(backend) >> 8), byte(port(backend))}
	ipv6Loopback := make([]byte, 16)
	ipv6Loopback[15] = 1
	tests := []struct {
		name    string
		d       SOCKS5
		network string
		target  string
		cfg     socks5Config
	}{{
		name:    "socks5 without credentials resolves here, first address",
		d:       SOCKS5{Resolver: testResolver},
		network: "tcp",
		target:  target(backend),
		cfg: socks5Config{
			greeting: []byte{5, 1, 0},
			request:  concat([]byte{5, 1, 0, 4}, ipv6Loopback, p),
		},
	}, {
		name:    "socks5 over tcp4 sends the IPv4 address",
		d:       SOCKS5{Resolver: testResolver},
		network: "tcp4",
		target:  target(backend),
		cfg: socks5Config{
			greeting: []byte{5, 1, 0},
			request:  concat([]byte{5, 1, 0, 1, 127, 0, 0, 1}, p),
		},
	}, {
		name:    "socks5h with credentials sends the name",
		d:       SOCKS5{Username: "alice", Password: "secret", RemoteResolve: true, Resolver: fakeResolver{}},
		network: "tcp",
		target:  target(backend),
		cfg: socks5Config{
			greeting: []byte{5, 2, 0, 2},
			user:     "alice",
			pass:     "secret",
			request:  concat([]byte{5, 1, 0, 3, 9}, []byte("mail.test"), p),
		},
	}, {
		name:    "socks5 with an address literal",
		d:       SOCKS5{Resolver: fakeResolver{}},
		network: "tcp",
		target:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port(backend))),
		cfg: socks5Config{
			greeting: []byte{5, 1, 0},
			request:  concat([]byte{5, 1, 0, 1, 127, 0, 0, 1}, p),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.backend = backend.addr()
			proxy := socks5Server(t, cfg)
			d := tt.d
			d.Addr = proxy.addr()
			conn, err := d.DialContext(testContext(t), tt.network, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			roundTrip(t, conn)
		})
	}
}

// TestSOCKS5Auth proves that a wrong password and missing credentials are
// told apart, and that the password appears nowhere in the error.
func TestSOCKS5Auth(t *testing.T) {
	cfg := socks5Config{user: "alice", pass: "secret"}
	t.Run("wrong password", func(t *testing.T) {
		cfg := cfg
		cfg.greeting = []byte{5, 2, 0, 2}
		proxy := socks5Server(t, cfg)
		d := &SOCKS5{Addr: proxy.addr(), Username: "alice", Password: "wrong-pw"}
		_, err := d.DialContext(testContext(t), "tcp", "192.0.2.1:25")
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("got %v; want ErrAuthFailed", err)
		}
		if strings.Contains(err.Error(), "wrong-pw") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		cfg := cfg
		cfg.greeting = []byte{5, 1, 0}
		proxy := socks5Server(t, cfg)
		d := &SOCKS5{Addr: proxy.addr()}
		_, err := d.DialContext(testContext(t), "tcp", "192.0.2.1:25")
		if !errors.Is(err, ErrAuthRequired) {
			t.Fatalf("got %v; want ErrAuthRequired", err)
		}
	})
}

// TestSOCKS5CommandFailures proves that each reply code becomes ErrRefused
// with the code and its meaning in words.
func TestSOCKS5CommandFailures(t *testing.T) {
	words := map[byte]string{
		1: "general SOCKS server failure",
		2: "not allowed by the proxy's rules",
		3: "network unreachable",
		4: "host unreachable",
		5: "refused the connection",
		6: "TTL expired",
		7: "does not support CONNECT",
		8: "address type",
		9: "unassigned",
	}
	for code, word := range words {
		t.Run(strconv.Itoa(int(code)), func(t *testing.T) {
			proxy := socks5Server(t, socks5Config{
				greeting: []byte{5, 1, 0},
				request:  []byte{5, 1, 0, 1, 192, 0, 2, 1, 0, 25},
				reply:    code,
			})
			d := &SOCKS5{Addr: proxy.addr()}
			_, err := d.DialContext(testContext(t), "tcp", "192.0.2.1:25")
			var e *Error
			if !errors.Is(err, ErrRefused) || !errors.As(err, &e) || e.Code != int(code) {
				t.Fatalf("got %v; want ErrRefused with code %d", err, code)
			}
			for _, s := range []string{word, proxy.addr(), "192.0.2.1:25", "socks5"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
		})
	}
}

// TestSOCKS5MalformedReplies proves that replies breaking RFC 1928 or 1929,
// and proxies hanging up mid-handshake, become errors wrapping a sentinel.
func TestSOCKS5MalformedReplies(t *testing.T) {
	const (
		greetingLen     = 3  // 5 1 0
		authGreetingLen = 4  // 5 2 0 2
		authLen         = 14 // 1 5 alice 6 secret
		requestLen      = 10 // 5 1 0 1 192.0.2.1 0 25
	)
	ok := []byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name     string
		withAuth bool
		steps    []exchange
		sentinel error
		words    string
	}{
		{"wrong version", false, []exchange{{greetingLen, []byte{4, 0}}}, ErrProtocol, "version 4, not 5"},
		{"an HTTP proxy", false, []exchange{{greetingLen, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")}}, ErrProtocol, "looks like HTTP"},
		{"method not offered", false, []exchange{{greetingLen, []byte{5, 1}}}, ErrProtocol, "method 1"},
		{"no acceptable method", false, []exchange{{greetingLen, []byte{5, 0xFF}}}, ErrAuthRequired, "without authentication"},
		{"asks for a password none was offered", false, []exchange{{greetingLen, []byte{5, 2}}, {requestLen, nil}}, ErrAuthRequired, "username and password"},
		{"no acceptable method with credentials", true, []exchange{{authGreetingLen, []byte{5, 0xFF}}}, ErrAuthFailed, "accepts neither"},
		{"auth reply version", true, []exchange{{authGreetingLen, []byte{5, 2}}, {authLen, []byte{5, 0}}}, ErrProtocol, "authentication reply has version 5"},
		{"reply version", false, []exchange{{greetingLen, []byte{5, 0}}, {requestLen, []byte{4, 0, 0, 1, 0, 0, 0, 0, 0, 0}}}, ErrProtocol, "CONNECT reply has version 4"},
		{"reserved byte", false, []exchange{{greetingLen, []byte{5, 0}}, {requestLen, []byte{5, 0, 1, 1, 0, 0, 0, 0, 0, 0}}}, ErrProtocol, "reserved byte"},
		{"address type", false, []exchange{{greetingLen, []byte{5, 0}}, {requestLen, []byte{5, 0, 0, 9, 0, 0, 0, 0, 0, 0}}}, ErrProtocol, "address type 9"},
		{"closed before the greeting reply", false, []exchange{{greetingLen, nil}}, ErrProtocol, "closed the connection"},
		{"closed after the method", false, []exchange{{greetingLen, []byte{5, 0}}}, ErrProtocol, "closed the connection"},
		{"closed mid-reply", false, []exchange{{greetingLen, []byte{5, 0}}, {requestLen, ok[:6]}}, ErrProtocol, "closed the connection"},
		{"closed mid-authentication", true, []exchange{{authGreetingLen, []byte{5, 2}}, {authLen, []byte{1}}}, ErrProtocol, "closed the connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := scriptServer(t, tt.steps...)
			d := &SOCKS5{Addr: proxy.addr()}
			if tt.withAuth {
				d.Username, d.Password = "alice", "secret"
			}
			conn, err := d.DialContext(testContext(t), "tcp", "192.0.2.1:25")
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded")
			}
			var e *Error
			if !errors.Is(err, tt.sentinel) || !errors.As(err, &e) || e.Op != "handshake" {
				t.Fatalf("got %v; want a handshake *Error wrapping %v", err, tt.sentinel)
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

// TestSOCKS5InvalidArguments proves that unusable fields are refused before the proxy is dialled.
func TestSOCKS5InvalidArguments(t *testing.T) {
	tests := []struct {
		name    string
		d       SOCKS5
		network string
		target  string
	}{
		{"password without username", SOCKS5{Password: "secret"}, "tcp", "192.0.2.1:25"},
		{"username too long", SOCKS5{Username: strings.Repeat("a", 256), Password: "secret"}, "tcp", "192.0.2.1:25"},
		{"password too long", SOCKS5{Username: "alice", Password: strings.Repeat("a", 256)}, "tcp", "192.0.2.1:25"},
		{"CR LF in the username", SOCKS5{Username: "alice\r\n"}, "tcp", "192.0.2.1:25"},
		{"NUL in the password", SOCKS5{Username: "alice", Password: "sec\x00ret"}, "tcp", "192.0.2.1:25"},
		{"NUL in the host name", SOCKS5{RemoteResolve: true}, "tcp", "mail\x00.test:25"},
		{"host name too long", SOCKS5{RemoteResolve: true}, "tcp", strings.Repeat("a", 256) + ":25"},
		{"udp", SOCKS5{}, "udp", "192.0.2.1:25"},
		{"negative handshake timeout", SOCKS5{HandshakeTimeout: -time.Second}, "tcp", "192.0.2.1:25"},
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
			if d.Password != "" && strings.Contains(err.Error(), d.Password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestSOCKS5Cancel proves that cancelling the context, or reaching its
// deadline, unblocks a dial to a proxy that never answers, and that the
// connection to the proxy is closed.
func TestSOCKS5Cancel(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		proxy := startHangServer(t)
		d := &SOCKS5{Addr: proxy.addr(), Username: "alice", Password: "secret"}
		_, err := d.DialContext(proxy.cancelWhenAsked(t), "tcp", "192.0.2.1:25")
		checkCancelled(t, err, "handshake", context.Canceled)
		proxy.waitClosed(t)
	})
	t.Run("deadline", func(t *testing.T) {
		proxy := startHangServer(t)
		ctx, cancel := context.WithTimeout(testContext(t), 50*time.Millisecond)
		defer cancel()
		d := &SOCKS5{Addr: proxy.addr()}
		_, err := d.DialContext(ctx, "tcp", "192.0.2.1:25")
		checkCancelled(t, err, "handshake", context.DeadlineExceeded)
		proxy.waitClosed(t)
	})
}

// TestSOCKS5DialFailure proves that a proxy that cannot be reached is a
// "dial" error naming it, without the password.
func TestSOCKS5DialFailure(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	d := &SOCKS5{Addr: addr, Username: "alice", Password: "secret"}
	_, err := d.DialContext(testContext(t), "tcp", "192.0.2.1:25")
	var e *Error
	if !errors.As(err, &e) || e.Op != "dial" || e.Proxy != addr {
		t.Fatalf("got %v; want a dial *Error for %s", err, addr)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}
