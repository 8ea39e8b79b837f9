package proxy

import "net"

// prefixConn is a net.Conn whose first reads return bytes the proxy sent
// right after its reply (the start of the tunnelled stream), then the rest.
type prefixConn struct {
	net.Conn
	pending []byte
}

// Read returns the pending bytes first, then reads the connection.
func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
