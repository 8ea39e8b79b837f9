package proxy

import (
	"errors"
	"io"
	"testing"
)

// TestError proves the shape of an Error's message and that it unwraps to its cause.
func TestError(t *testing.T) {
	e := newError("http", "proxy.test:8080", "mail.test:25", "handshake", 403, ErrRefused)
	want := "http proxy proxy.test:8080, target mail.test:25: handshake: " + ErrRefused.Error()
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	if !errors.Is(e, ErrRefused) {
		t.Error("does not unwrap to its cause")
	}
	hidden := newError("socks5", "alice:secret@proxy.test:1080", "", "request", 0, io.EOF)
	if hidden.Proxy != "xxxxx@proxy.test:1080" {
		t.Errorf("Proxy = %q; want the part before @ hidden", hidden.Proxy)
	}
}
