// Package wire reads SMTP replies and writes SMTP commands on one connection.
//
// It knows the grammar and the limits of the protocol, nothing of sessions:
// deadlines, TLS upgrades and policy belong to the caller.
package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrInvalidArgument marks a command argument that holds CR, LF or NUL.
var ErrInvalidArgument = errors.New("invalid argument")

// Conn is a connection that speaks SMTP lines.
type Conn struct {
	r       *bufio.Reader
	w       *bufio.Writer
	maxLn   int
	maxLns  int
	traceFn func(sent bool, line string, redacted bool)
}

// Config sets the limits and the transcript hook of a Conn; zero values pick the defaults.
type Config struct {
	MaxLineLength int                                         // longest reply line accepted, CRLF included
	MaxLines      int                                         // most lines accepted in one reply
	Trace         func(sent bool, line string, redacted bool) // called with every line sent and received; redacted: line stands for a secret
}

// NewConn wraps nc.
func NewConn(nc net.Conn, cfg Config) *Conn {
	if cfg.MaxLineLength <= 0 {
		cfg.MaxLineLength = DefaultMaxLineLength
	}
	if cfg.MaxLines <= 0 {
		cfg.MaxLines = DefaultMaxLines
	}
	return &Conn{
		r:       bufio.NewReaderSize(nc, cfg.MaxLineLength),
		w:       bufio.NewWriterSize(nc, writeBufferSize),
		maxLn:   cfg.MaxLineLength,
		maxLns:  cfg.MaxLines,
		traceFn: cfg.Trace,
	}
}

// Reset makes the Conn read and write nc from now on, dropping anything
// buffered from the old connection; it is used after a TLS upgrade.
func (c *Conn) Reset(nc net.Conn) {
	c.r = bufio.NewReaderSize(nc, c.maxLn)
	c.w = bufio.NewWriterSize(nc, writeBufferSize)
}

// writeBufferSize is how much is written at once: many pipelined commands
// and message pieces share one system call.
const writeBufferSize = 16 << 10

// Buffered reports how many bytes have been received but not yet read.
func (c *Conn) Buffered() int { return c.r.Buffered() }

// Unsent reports how many bytes are buffered for writing: not yet flushed.
func (c *Conn) Unsent() int { return c.w.Buffered() }

// ReplyBuffered reports whether a whole reply has arrived and waits in the
// read buffer, so that reading it will not wait for the network. A line
// too short to be a reply counts as whole: reading it fails at once.
func (c *Conn) ReplyBuffered() bool {
	b, _ := c.r.Peek(c.r.Buffered())
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		if i < 4 || b[3] != '-' {
			return true
		}
		b = b[i+1:]
	}
}

// Peek waits until at least one byte has arrived, without consuming it.
func (c *Conn) Peek() error {
	_, err := c.r.Peek(1)
	return err
}

func (c *Conn) maxLines() int { return c.maxLns }

func (c *Conn) trace(sent bool, line string, redacted bool) {
	if c.traceFn != nil {
		c.traceFn(sent, line, redacted)
	}
}

// CheckArg returns an error when s holds CR, LF or NUL, which would let it end
// a command early or smuggle another one in.
func CheckArg(s string) error {
	if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("%w: %q holds %q at byte %d; CR, LF and NUL are not allowed in SMTP commands", ErrInvalidArgument, s, s[i], i)
	}
	return nil
}

// WriteCommand buffers verb and its arguments as one command line; nothing is
// buffered when any of them holds CR, LF or NUL. Call Flush to send.
func (c *Conn) WriteCommand(verb string, args ...string) error {
	if c.traceFn != nil {
		line, err := commandLine(verb, args)
		if err != nil {
			return err
		}
		return c.writeLine(line, line, false)
	}
	// No transcript: the pieces go to the buffer as they are, with no
	// line built in between.
	if err := CheckArg(verb); err != nil {
		return err
	}
	for _, a := range args {
		if err := CheckArg(a); err != nil {
			return err
		}
	}
	c.w.WriteString(verb)
	for _, a := range args {
		c.w.WriteByte(' ')
		c.w.WriteString(a)
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

// WriteSecret buffers a command line that carries a secret; the transcript
// shows shown in its place.
func (c *Conn) WriteSecret(line, shown string) error {
	if err := CheckArg(line); err != nil {
		// The error would print the secret: name only the offending byte.
		return fmt.Errorf("%w: a secret holds CR, LF or NUL", ErrInvalidArgument)
	}
	return c.writeLine(line, shown, true)
}

func (c *Conn) writeLine(line, shown string, redacted bool) error {
	c.trace(true, shown, redacted)
	if _, err := c.w.WriteString(line); err != nil {
		return err
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

// Write buffers raw bytes, such as message data, without checks or transcript.
func (c *Conn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Flush sends every buffered command.
func (c *Conn) Flush() error { return c.w.Flush() }

func commandLine(verb string, args []string) (string, error) {
	if err := CheckArg(verb); err != nil {
		return "", err
	}
	n := len(verb)
	for _, a := range args {
		if err := CheckArg(a); err != nil {
			return "", err
		}
		n += 1 + len(a)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(verb)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	return b.String(), nil
}
