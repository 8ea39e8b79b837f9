package smtptest

import (
	"net"
	"sync"
)

// trackingListener wraps a TCP listener, counts the connections it accepts
// and remembers the ones still open so they can all be closed at once.
type trackingListener struct {
	net.Listener

	mu       sync.Mutex
	closed   bool
	accepted int
	open     map[*trackedConn]struct{}
}

// listenLoopback listens on a random TCP port of 127.0.0.1.
func listenLoopback() (*trackingListener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &trackingListener{Listener: l, open: make(map[*trackedConn]struct{})}, nil
}

// Accept waits for the next connection and starts tracking it.
func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		// Close raced with this Accept: nobody will close this connection
		// later, so refuse it now.
		c.Close()
		return nil, net.ErrClosed
	}
	l.accepted++
	tc := &trackedConn{Conn: c, listener: l}
	l.open[tc] = struct{}{}
	return tc, nil
}

// Close stops accepting connections; open connections stay open.
func (l *trackingListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.Listener.Close()
}

// closeConns closes every connection that is still open.
func (l *trackingListener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.open {
		c.Conn.Close()
		delete(l.open, c)
	}
}

// count returns the number of connections accepted so far.
func (l *trackingListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

// trackedConn is a connection that tells its listener when it is closed.
type trackedConn struct {
	net.Conn
	listener *trackingListener
}

// Close closes the connection and stops tracking it.
func (c *trackedConn) Close() error {
	c.listener.mu.Lock()
	delete(c.listener.open, c)
	c.listener.mu.Unlock()
	return c.Conn.Close()
}

// NetConn returns the connection as the listener accepted it, such as a
// *net.TCPConn whose socket options a test wants to set.
func (c *trackedConn) NetConn() net.Conn { return c.Conn }
