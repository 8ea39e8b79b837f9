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

// socks4Server starts a SOCKS4 and SOCKS4a proxy. It reads a request, fails
// the test unless the request is byte for byte want, then sends reply and,
// when reply grants the request, relays to the backend.
func socks4Server(t *testing.T, want, reply []byte, backend string) *server {
	return serve(t, listen(t), func(s *server, c net.Conn) error {
		got, err := readSOCKS4Request(c)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("SOCKS4 request\n got % x\nwant % x", got, want)
		}
		if len(reply) != 8 || reply[1] != socks4Granted {
			c.Write(reply)
			return nil
		}
		b, err := dialBackend(s, backend)
		if err != nil {
			return err
		}
		if _, err := c.Write(reply); err != nil {
			return err
		}
		relay(c, b)
		return nil
	})
}

// readSOCKS4Request reads a whole SOCKS4 or SOCKS4a request, framing as the
// protocol says: 8 bytes, the user ID up to NUL, and for SOCKS4a (address
// 0.0.0.x, x nonzero) the host name up to NUL.
func readSOCKS4Request(c net.Conn) ([]byte, error) {
	req := make([]byte, 8)
	if _, err := io.ReadFull(c, req); err != nil {
		return nil, fmt.Errorf("reading the request header: %w", err)
	}
	var err error
	if req, err = appendUntilNUL(c, req); err != nil {
		return nil, fmt.Errorf("reading the user ID: %w", err)
	}
	if req[4] == 0 && req[5] == 0 && req[6] == 0 && req[7] != 0 {
		if req, err = appendUntilNUL(c, req); err != nil {
			return nil, fmt.Errorf("reading the host name: %w", err)
		}
	}
	return req, nil
}

// appendUntilNUL reads bytes one at a time up to and including a NUL, at most 300.
func appendUntilNUL(r io.Reader, b []byte) ([]byte, error) {
	one := make([]byte, 1)
	for range 300 {
		if _, err := io.ReadFull(r, one); err != nil {
			return b, err
		}
		b = append(b, one[0])
		if one[0] == 0 {
			return b, nil
		}
	}
	return b, errors.New("no NUL in 300 bytes")
}

// socks4Port returns the two bytes of the port of a backend, high first.
func socks4Port(backend *server) []byte {
	p := port(backend)
	return []byte{byte(p >> 8), byte(p)}
}

var socks4Granted8 = []byte{0, 0x5A, 0, 0, 0, 0, 0, 0}

// TestSOCKS4RoundTrip proves that each kind of SOCKS4 request is sent byte
// for byte as the protocol says, and that the tunnel then reaches the backend.
func TestSOCKS4RoundTrip(t *testing.T) {
	backend := startBackend(t)
	p := socks4Port(backend)
	literal := net.JoinHostPort("127.0.0.1", strconv.Itoa(port(backend)))
	tests := []struct {
		name   string
		d      SOCKS4
		target string
		want   []byte
	}{{
		name:   "socks4 resolves the name here to IPv4 and sends the user ID",
		d:      SOCKS4{UserID: "alice", Resolver: testResolver},
		target: target(backend),
		want:   concat([]byte{4, 1}, p, []byte{127, 0, 0, 1}, []byte("alice\x00")),
	}, {
		name:   "socks4 with no user ID sends an empty one",
		d:      SOCKS4{Resolver: testResolver},
		target: target(backend),
		want:   concat([]byte{4, 1}, p, []byte{127, 0, 0, 1, 0}),
	}, {
		name:   "socks4a sends the name after 0.0.0.1",
		d:      SOCKS4{UserID: "alice", RemoteResolve: true, Resolver: fakeResolver{}},
		target: target(backend),
		want:   concat([]byte{4, 1}, p, []byte{0, 0, 0, 1}, []byte("alice\x00mail.test\x00")),
	}, {
		name:   "socks4a sends an address literal as an address",
		d:      SOCKS4{UserID: "alice", RemoteResolve: true},
		target: literal,
		want:   concat([]byte{4, 1}, p, []byte{127, 0, 0, 1}, []byte("alice\x00")),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := socks4Server(t, tt.want, socks4Granted8, backend.addr())
			d := tt.d
			d.Addr = proxy.addr()
			conn, err := d.DialContext(testContext(t), "tcp", tt.target)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			roundTrip(t, conn)
		})
	}
}

// concat joins byte slices, so that expected requests read like the protocol.
func concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// TestSOCKS4Replies proves that every refusal and every malformed reply
// becomes an error naming the proxy, the target and the reason.
func TestSOCKS4Replies(t *testing.T) {
	tests := []struct {
		name     string
		reply    []byte
		sentinel error
		code     int
		words    string
	}{
		{"rejected", []byte{0, 0x5B, 0, 0, 0, 0, 0, 0}, ErrRefused, 0x5B, "rejected or failed"},
		{"identd unreachable", []byte{0, 0x5C, 0, 0, 0, 0, 0, 0}, ErrAuthFailed, 0x5C, "could not reach identd"},
		{"identd disagrees", []byte{0, 0x5D, 0, 0, 0, 0, 0, 0}, ErrAuthFailed, 0x5D, "identd on this host reports"},
		{"unknown code", []byte{0, 0x42, 0, 0, 0, 0, 0, 0}, ErrProtocol, 0x42, "unknown SOCKS4 reply code 0x42"},
		{"wrong version", []byte{4, 0x5A, 0, 0, 0, 0, 0, 0}, ErrProtocol, 0, "version 4, not 0"},
		{"an HTTP proxy", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), ErrProtocol, 0, "looks like HTTP"},
		{"closed mid-reply", []byte{0, 0x5A, 0}, ErrProtocol, 0, "closed the connection"},
		{"closed without a reply", nil, ErrProtocol, 0, "closed the connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := startBackend(t)
			want := concat([]byte{4, 1}, socks4Port(backend), []byte{127, 0, 0, 1}, []byte("bob\x00"))
			proxy := socks4Server(t, want, tt.reply, backend.addr())
			d := &SOCKS4{Addr: proxy.addr(), UserID: "bob", Resolver: testResolver}
			conn, err := d.DialContext(testContext(t), "tcp", target(backend))
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded")
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("got %v; want an error wrapping %v", err, tt.sentinel)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T; want *Error", err)
			}
			if e.Op != "handshake" || e.Code != tt.code || e.Proxy != proxy.addr() || e.Target != target(backend) {
				t.Errorf("got %+v", e)
			}
			for _, s := range []string{proxy.addr(), target(backend), tt.words} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
			if tt.sentinel == ErrProtocol && strings.Contains(tt.words, "closed") && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("got %v; want it to wrap io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// TestSOCKS4InvalidArguments proves that fields which could corrupt the
// request are refused before the proxy is dialled.
func TestSOCKS4InvalidArguments(t *testing.T) {
	tests := []struct {
		name    string
		d       SOCKS4
		network string
		target  string
	}{
		{"NUL in the user ID", SOCKS4{UserID: "al\x00ice"}, "tcp", "192.0.2.1:25"},
		{"CR LF in the user ID", SOCKS4{UserID: "alice\r\n"}, "tcp", "192.0.2.1:25"},
		{"user ID too long", SOCKS4{UserID: strings.Repeat("a", 256)}, "tcp", "192.0.2.1:25"},
		{"NUL in the host name", SOCKS4{RemoteResolve: true}, "tcp", "mail\x00.test:25"},
		{"IPv6 literal", SOCKS4{}, "tcp", "[2001:db8::1]:25"},
		{"tcp6", SOCKS4{RemoteResolve: true}, "tcp6", "mail.test:25"},
		{"udp", SOCKS4{}, "udp", "192.0.2.1:25"},
		{"no port", SOCKS4{}, "tcp", "192.0.2.1"},
		{"port 0", SOCKS4{}, "tcp", "192.0.2.1:0"},
		{"port name", SOCKS4{}, "tcp", "192.0.2.1:smtp"},
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
		})
	}
	t.Run("no proxy address", func(t *testing.T) {
		d := &SOCKS4{Forward: mustNotDial{t}}
		if _, err := d.DialContext(testContext(t), "tcp", "192.0.2.1:25"); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("got %v; want ErrInvalidArgument", err)
		}
	})
}

// TestSOCKS4IPv6OnlyName proves that a name with only IPv6 addresses is a
// clear error suggesting SOCKS4a or SOCKS5, that an unknown name is a plain
// lookup error, and that nothing is dialled.
func TestSOCKS4IPv6OnlyName(t *testing.T) {
	d := &SOCKS4{Addr: "127.0.0.1:1", Resolver: testResolver, Forward: mustNotDial{t}}
	_, err := d.DialContext(testContext(t), "tcp", "v6only.test:25")
	var e *Error
	if !errors.As(err, &e) || e.Op != "resolve" {
		t.Fatalf("got %v; want an *Error with Op resolve", err)
	}
	for _, s := range []string{"only IPv6", "socks4a://", "SOCKS5"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not say %q", err, s)
		}
	}

	// A name that does not exist is a plain lookup error, without the hint.
	_, err = d.DialContext(testContext(t), "tcp", "nowhere.test:25")
	var dnsErr *net.DNSError
	if !errors.As(err, &e) || e.Op != "resolve" || !errors.As(err, &dnsErr) || strings.Contains(err.Error(), "socks4a") {
		t.Fatalf("got %v; want a resolve *Error wrapping the *net.DNSError, without the SOCKS4a hint", err)
	}
}

// TestSOCKS4Cancel proves that cancelling the context, or reaching its
// deadline, unblocks a dial to a proxy that never answers, and that the
// connection to the proxy is closed.
func TestSOCKS4Cancel(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		proxy := startHangServer(t)
		d := &SOCKS4{Addr: proxy.addr(), RemoteResolve: true}
		_, err := d.DialContext(proxy.cancelWhenAsked(t), "tcp", "mail.test:25")
		checkCancelled(t, err, "handshake", context.Canceled)
		proxy.waitClosed(t)
	})
	t.Run("deadline", func(t *testing.T) {
		proxy := startHangServer(t)
		ctx, cancel := context.WithTimeout(testContext(t), 50*time.Millisecond)
		defer cancel()
		d := &SOCKS4{Addr: proxy.addr(), RemoteResolve: true}
		_, err := d.DialContext(ctx, "tcp", "mail.test:25")
		checkCancelled(t, err, "handshake", context.DeadlineExceeded)
		proxy.waitClosed(t)
	})
	t.Run("while resolving", func(t *testing.T) {
		r := blockingResolver{asked: make(chan struct{}, 1)}
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		go func() {
			select {
			case <-r.asked:
				cancel()
			case <-ctx.Done():
			}
		}()
		d := &SOCKS4{Addr: "127.0.0.1:1", Resolver: r, Forward: mustNotDial{t}}
		_, err := d.DialContext(ctx, "tcp", "mail.test:25")
		checkCancelled(t, err, "resolve", context.Canceled)
	})
}
