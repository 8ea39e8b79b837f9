package smtptest

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"sync"
)

// RawServer is a TCP server on a random port of 127.0.0.1 that runs a
// script of your own on every connection, for testing how a client copes
// with servers that misbehave.
type RawServer struct {
	// Addr is the "127.0.0.1:port" address the server listens on.
	Addr string

	handler  func(*RawConn)
	listener *trackingListener
	wg       sync.WaitGroup // the accept loop and every handler

	mu       sync.Mutex
	closed   bool
	received []string
}

// NewRawServer starts a plaintext RawServer. Each accepted connection runs
// handler in its own goroutine and is closed when handler returns.
// The caller must call Close when finished.
func NewRawServer(handler func(*RawConn)) *RawServer {
	return startRawServer(handler, nil)
}

// NewRawTLSServer starts a RawServer that speaks TLS from the first byte,
// presenting Certificate. Each accepted connection runs handler in its own
// goroutine and is closed when handler returns.
// The caller must call Close when finished.
func NewRawTLSServer(handler func(*RawConn)) *RawServer {
	return startRawServer(handler, ServerTLSConfig())
}

// startRawServer starts a RawServer, using TLS from the first byte if
// tlsConfig is not nil.
func startRawServer(handler func(*RawConn), tlsConfig *tls.Config) *RawServer {
	tl, err := listenLoopback()
	if err != nil {
		panic(fmt.Sprintf("smtptest: failed to listen on 127.0.0.1: %v", err))
	}
	s := &RawServer{Addr: tl.Addr().String(), handler: handler, listener: tl}

	var l net.Listener = tl
	if tlsConfig != nil {
		l = tls.NewListener(tl, tlsConfig)
	}
	s.wg.Add(1)
	go s.acceptLoop(l)
	return s
}

// acceptLoop accepts connections until the listener is closed.
func (s *RawServer) acceptLoop(l net.Listener) {
	defer s.wg.Done()
	for {
		conn, err := l.Accept()
		if err != nil {
			// The only expected error is the one caused by Close.
			return
		}
		// Add happens while this loop is itself counted in wg, so it
		// cannot race with Close's Wait reaching zero.
		s.wg.Add(1)
		go s.serve(conn)
	}
}

// serve runs the handler on one connection and closes it afterwards.
func (s *RawServer) serve(conn net.Conn) {
	defer s.wg.Done()
	rc := newRawConn(s, conn)
	// rc.conn, not conn: after StartTLS closing the TLS layer lets the
	// client see a clean close_notify.
	defer func() { rc.conn.Close() }()
	s.handler(rc)
}

// Close stops the server, closes all its connections (which makes any
// RawConn method in progress return an error) and waits until every handler
// has returned. It is safe to call more than once.
func (s *RawServer) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()

	s.listener.Close()
	s.listener.closeConns()
	s.wg.Wait()
}

// Connections returns the number of TCP connections accepted so far.
func (s *RawServer) Connections() int {
	return s.listener.count()
}

// Received returns every line that clients sent, over all connections, in
// the order they were read.
func (s *RawServer) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// addReceived records a line read from a client.
func (s *RawServer) addReceived(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, line)
}
