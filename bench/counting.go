package main

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
)

// ioStats counts the calls a client made on its connections: Write and
// Read of the net.Conn, each at least one system call (a Read that finds
// nothing waits in the runtime's poller and is counted once).
type ioStats struct {
	Writes     int64
	Reads      int64
	WriteBytes int64
	ReadBytes  int64
}

func (s ioStats) sub(o ioStats) ioStats {
	return ioStats{s.Writes - o.Writes, s.Reads - o.Reads, s.WriteBytes - o.WriteBytes, s.ReadBytes - o.ReadBytes}
}

// countingDialer opens TCP connections that count the calls made on them;
// its DialContext fits smtpkit.Options.Dialer and go-mail's
// WithDialContextFunc, and the other clients take the connection itself.
// The counts add up over every connection it opened.
type countingDialer struct {
	d              net.Dialer
	writes, reads  atomic.Int64
	wbytes, rbytes atomic.Int64
}

// DialContext connects to address and wraps the connection.
func (d *countingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nc, err := d.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: nc, d: d}, nil
}

// dialTLS connects to address and completes a TLS handshake over the
// counted connection: what tls.Dial and tls.Dialer do, with the counting
// connection underneath.
func (d *countingDialer) dialTLS(ctx context.Context, address string, cfg *tls.Config) (*tls.Conn, error) {
	nc, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// Stats returns the counts so far.
func (d *countingDialer) Stats() ioStats {
	return ioStats{d.writes.Load(), d.reads.Load(), d.wbytes.Load(), d.rbytes.Load()}
}

// countingConn counts the Write and Read calls made on a connection. It
// has no ReadFrom, so io.Copy into it writes through Write with a 32 KiB
// buffer, as net.TCPConn's ReadFrom does for a reader that is not a file
// or a socket.
type countingConn struct {
	net.Conn
	d *countingDialer
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.d.writes.Add(1)
	c.d.wbytes.Add(int64(n))
	return n, err
}

// NetConn returns the connection underneath, as tls.Conn's does: a client
// that tunes its socket (smtpkit asks for immediate ACKs while it waits
// for pipelined replies) reaches it through the wrapper.
func (c *countingConn) NetConn() net.Conn { return c.Conn }

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.d.reads.Add(1)
	c.d.rbytes.Add(int64(n))
	return n, err
}
