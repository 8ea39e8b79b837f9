package smtptest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultRawTimeout is how long a RawConn method waits for the client when
// RawConn.Timeout is zero.
const DefaultRawTimeout = 10 * time.Second

// RawConn is one client connection to a RawServer, handed to the handler.
//
// Its methods are meant to be called from the handler's goroutine only,
// except Received which may be called from anywhere. Each read or write
// gives up after Timeout, and all of them return an error once the server
// is closed, so a handler never blocks forever.
type RawConn struct {
	// Timeout bounds each Send, SendRaw, ReadLine, Expect, StartTLS and
	// WaitClose call; zero means DefaultRawTimeout.
	Timeout time.Duration

	server *RawServer
	conn   net.Conn // becomes a *tls.Conn after StartTLS
	reader *bufio.Reader

	mu       sync.Mutex
	received []string
}

// newRawConn prepares a RawConn for a connection accepted by server.
func newRawConn(server *RawServer, conn net.Conn) *RawConn {
	return &RawConn{server: server, conn: conn, reader: bufio.NewReader(conn)}
}

// Send writes each line followed by "\r\n", all in a single write, so that
// several replies can reach the client in one packet.
func (c *RawConn) Send(lines ...string) error {
	var b strings.Builder
	for _, line := range lines {
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return c.SendRaw([]byte(b.String()))
}

// SendRaw writes b exactly as given, in a single write.
func (c *RawConn) SendRaw(b []byte) error {
	c.setDeadline(time.Now().Add(c.timeout()))
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("smtptest: sending %d bytes: %w", len(b), err)
	}
	return nil
}

// ReadLine reads one line ending in "\r\n" or "\n" and returns it without
// the ending.
func (c *RawConn) ReadLine() (string, error) {
	line, err := c.readLine(time.Now().Add(c.timeout()))
	if err != nil {
		return line, fmt.Errorf("smtptest: reading a line: %w", err)
	}
	return line, nil
}

// Expect reads one line and returns an error unless it starts with prefix,
// ignoring case.
func (c *RawConn) Expect(prefix string) (string, error) {
	line, err := c.readLine(time.Now().Add(c.timeout()))
	if err != nil {
		return line, fmt.Errorf("smtptest: reading a line starting with %q: %w", prefix, err)
	}
	if !hasPrefixFold(line, prefix) {
		return line, fmt.Errorf("smtptest: expected a line starting with %q, got %q", prefix, line)
	}
	return line, nil
}

// StartTLS makes this connection a TLS server connection presenting
// Certificate and completes the handshake. Bytes the client sent before the
// handshake and that were already read into the buffer are not lost.
// Typically it follows Expect("STARTTLS") and Send("220 Go ahead").
func (c *RawConn) StartTLS() error {
	plain := &bufferedConn{Conn: c.conn, reader: c.reader}
	tlsConn := tls.Server(plain, ServerTLSConfig())
	c.setDeadline(time.Now().Add(c.timeout()))
	if err := tlsConn.Handshake(); err != nil {
		return fmt.Errorf("smtptest: TLS handshake after STARTTLS: %w", err)
	}
	c.conn = tlsConn
	c.reader = bufio.NewReader(tlsConn)
	return nil
}

// WaitClose reads and records lines until the client closes the connection,
// and returns nil then. It returns an error if Timeout passes first, or if
// the server is closed.
func (c *RawConn) WaitClose() error {
	deadline := time.Now().Add(c.timeout())
	for {
		_, err := c.readLine(deadline)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil
		}
		return fmt.Errorf("smtptest: waiting for the client to close the connection: %w", err)
	}
}

// Received returns every line read so far on this connection.
func (c *RawConn) Received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.received)
}

// Conn returns the underlying connection (a *tls.Conn after StartTLS or on
// a NewRawTLSServer). Reading from it directly bypasses the buffer that
// ReadLine uses.
func (c *RawConn) Conn() net.Conn {
	return c.conn
}

// readLine reads one line before deadline, records it and strips its
// ending. A partial line cut short by an error is recorded and returned
// with the error.
func (c *RawConn) readLine(deadline time.Time) (string, error) {
	c.setDeadline(deadline)
	line, err := c.reader.ReadString('\n')
	if err != nil {
		if line == "" {
			return "", err
		}
		c.record(line)
		return line, fmt.Errorf("got only the unfinished line %q: %w", line, err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	c.record(line)
	return line, nil
}

// record remembers a line read from the client, here and on the server.
func (c *RawConn) record(line string) {
	c.mu.Lock()
	c.received = append(c.received, line)
	c.mu.Unlock()
	c.server.addReceived(line)
}

// setDeadline sets the read and write deadline of the connection. An error
// here means the connection is closed, which the next read or write reports.
func (c *RawConn) setDeadline(t time.Time) {
	_ = c.conn.SetDeadline(t)
}

// timeout returns Timeout, or DefaultRawTimeout if it is zero.
func (c *RawConn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultRawTimeout
}

// hasPrefixFold reports whether s starts with prefix, ignoring case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// bufferedConn is a connection whose reads go through a bufio.Reader that
// may already hold bytes read from it.
type bufferedConn struct {
	net.Conn
	reader *bufio.Reader
}

// Read reads from the buffer first, then from the connection.
func (c *bufferedConn) Read(p []byte) (int, error) {
	return c.reader.Read(p)
}
