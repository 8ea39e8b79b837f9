package smtpkit

import (
	"crypto/tls"
	"net"
	"syscall"
	"testing"
)

// quickAckMode reads TCP_QUICKACK, which Linux answers with whether the
// socket acknowledges at once (1) or delays its ACKs (0).
func quickAckMode(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// delayAcks puts the socket in the mode where ACKs wait for data to ride
// on (what a conversation of commands and replies settles into).
func delayAcks(t *testing.T, c *net.TCPConn) {
	t.Helper()
	rc, _ := c.SyscallConn()
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0)
	})
	if quickAckMode(t, c) != 0 {
		t.Fatal("could not make the socket delay its ACKs")
	}
}

type opaqueConn struct{ net.Conn }

type wrappedConn struct{ net.Conn }

func (w wrappedConn) NetConn() net.Conn { return w.Conn }

// TestQuickAckReachesTheSocket: quickAck finds the TCP socket under TLS and
// under wrappers that name it (NetConn), and leaves others alone.
func TestQuickAckReachesTheSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	tcp := nc.(*net.TCPConn)
	for _, tt := range []struct {
		name string
		conn net.Conn
		want int
	}{
		{"TCP", tcp, 1},
		{"TLS over TCP", tls.Client(tcp, &tls.Config{}), 1},
		{"wrapper with NetConn", wrappedConn{wrappedConn{tcp}}, 1},
		{"wrapper without NetConn", opaqueConn{tcp}, 0},
	} {
		delayAcks(t, tcp)
		quickAck(tt.conn)
		if got := quickAckMode(t, tcp); got != tt.want {
			t.Errorf("%s: TCP_QUICKACK is %d after quickAck, want %d", tt.name, got, tt.want)
		}
	}
}
