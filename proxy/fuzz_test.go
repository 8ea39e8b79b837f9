package proxy

import (
	"bytes"
	"errors"
	"testing"
)

// isSentinel reports whether err wraps one of the package's sentinel errors.
func isSentinel(err error) bool {
	for _, s := range []error{ErrAuthRequired, ErrAuthFailed, ErrRefused, ErrProtocol, ErrInvalidArgument} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzHTTPReply proves that the HTTP reply reader never panics, never reads
// a header section past 16 KiB, keeps every byte after the header, and
// fails only with ErrProtocol on bad input.
func FuzzHTTPReply(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 Connection established\r\n\r\n220 hello\r\n"))
	f.Add([]byte("HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\nVia: a\n\n"))
	f.Add([]byte("HTTP/1.1 2x0 OK\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"))
	f.Add([]byte("\x05\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		reply, rest, err := readHTTPReply(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		if reply.status < 100 || reply.status > 999 {
			t.Fatalf("status %d", reply.status)
		}
		if !bytes.HasSuffix(data, rest) {
			t.Fatalf("rest %q is not what followed the header in %q", rest, data)
		}
		if len(data)-len(rest) > maxReplyHeader {
			t.Fatalf("accepted a %d-byte header", len(data)-len(rest))
		}
		for _, sent := range []bool{false, true} {
			err := httpStatusError(reply, sent)
			if (err == nil) != (reply.status/100 == 2) || (err != nil && !isSentinel(err)) {
				t.Fatalf("status %d: error %v", reply.status, err)
			}
		}
	})
}

// FuzzSOCKS4Reply proves that the SOCKS4 reply parser never panics, grants
// only a well-formed 0x5A reply, and explains every failure with a sentinel.
func FuzzSOCKS4Reply(f *testing.F) {
	f.Add([]byte{0, 0x5A, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0x5B, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0x5D, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("HTTP/1.1"))
	f.Add([]byte{0, 0x5A})
	f.Fuzz(func(t *testing.T, data []byte) {
		code, err := parseSOCKS4Reply(data)
		if err == nil {
			if len(data) != 8 || data[0] != 0 || code != socks4Granted {
				t.Fatalf("granted % x", data)
			}
			return
		}
		if !isSentinel(err) || code < 0 || code > 255 {
			t.Fatalf("% x: code %d, error %v", data, code, err)
		}
	})
}

// FuzzSOCKS5Reply proves that the SOCKS5 reply explainer never panics and
// that whatever it reports wraps a sentinel, with a code only for refusals.
func FuzzSOCKS5Reply(f *testing.F) {
	f.Add([]byte{5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0}, false)
	f.Add([]byte{5, 2, 1, 0, 5, 1, 0, 1}, true)
	f.Add([]byte{5, 2, 1, 1}, true)
	f.Add([]byte{5, 0xFF}, false)
	f.Add([]byte{5, 0, 5, 0, 1, 9}, false)
	f.Add([]byte("HTTP/1.1 400"), false)
	f.Fuzz(func(t *testing.T, data []byte, withAuth bool) {
		code, err := socks5ReplyError(data, withAuth)
		if err == nil {
			if code != 0 {
				t.Fatalf("code %d without an error", code)
			}
			return
		}
		if !isSentinel(err) || code < 0 || code > 255 || (code != 0) != errors.Is(err, ErrRefused) {
			t.Fatalf("% x: code %d, error %v", data, code, err)
		}
	})
}
