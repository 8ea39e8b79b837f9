package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/smtpkit/smtpkit"
	smtpmessage "github.com/smtpkit/smtpkit/message"
)

// readHeader reads a message's header from br with package message; a
// header too long to be one is a message error.
func readHeader(br *bufio.Reader) (*smtpmessage.Header, error) {
	h, err := smtpmessage.ReadHeader(br)
	if errors.Is(err, smtpmessage.ErrHeaderTooLong) {
		return nil, messageError{err}
	}
	return h, err
}

// envelope is how the envelope of a message is found.
type envelope struct {
	from    string // the sender: an address, or "Name <address>"
	fromSet bool   // from was given, even as "" (the null sender)
	to      []string
	// fromHeader takes the recipients from the To, Cc and Bcc fields too
	// (sendmail -t); otherwise they are taken from there only when to is empty.
	fromHeader bool
}

// of returns the envelope of the message whose header is h.
func (e envelope) of(h *smtpmessage.Header) (smtpkit.Envelope, error) {
	var env smtpkit.Envelope
	switch {
	case e.from == "" && !e.fromSet:
		a, err := h.Sender()
		if errors.Is(err, smtpmessage.ErrNoSender) {
			return env, messageError{errors.New("no sender: the message has no From field; give --from, or from in the account")}
		}
		if err != nil {
			return env, messageError{err}
		}
		env.From = a.Addr
	case e.from == "" || e.from == "<>":
		// the null sender
	default:
		a, err := smtpmessage.ParseAddress(e.from)
		if err != nil {
			return env, usageError{fmt.Errorf("the sender: %w", err)}
		}
		env.From = a.Addr
	}
	env.To = append(env.To, e.to...)
	if e.fromHeader || len(e.to) == 0 {
		list, err := h.Recipients()
		if err != nil {
			return env, messageError{err}
		}
		for _, a := range list {
			if !containsFold(env.To, a.Addr) {
				env.To = append(env.To, a.Addr)
			}
		}
	}
	if len(env.To) == 0 {
		return env, messageError{errors.New("no recipient: the message has no To, Cc or Bcc field; give --to")}
	}
	return env, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// expandAddresses splits each argument, which may hold a list, into addresses.
func expandAddresses(args []string) ([]string, error) {
	var out []string
	for _, arg := range args {
		list, err := smtpmessage.ParseAddressList(arg)
		if err != nil {
			return nil, usageError{err}
		}
		if len(list) == 0 && strings.TrimSpace(arg) != "" {
			return nil, usageError{fmt.Errorf("%q is not an address", arg)}
		}
		for _, a := range list {
			out = append(out, a.Addr)
		}
	}
	return out, nil
}

// localSender returns user@host for the user running the command.
func localSender() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "nobody"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return name + "@" + host
}

// message is one message to send: where it comes from, its envelope, and
// its content, which is read when it is sent.
type message struct {
	source string
	env    smtpkit.Envelope
	r      io.Reader
	err    error // why it cannot be sent; nil when it can
}

// lazyMessage is a message whose header was read and rewritten and whose
// body is read from its source only when it is sent: the source is opened
// at the first read of the body and closed at its end, so that thousands
// of messages take no file descriptors until their turn. It can be rewound
// to its start, so a Pool can send it again.
type lazyMessage struct {
	head []byte
	open func() (io.ReadCloser, error) // the message from its very start
	skip int64                         // the bytes of the source the header took

	pos  int64
	body io.ReadCloser
	eof  bool
}

func (m *lazyMessage) Read(p []byte) (int, error) {
	if m.pos < int64(len(m.head)) {
		n := copy(p, m.head[m.pos:])
		m.pos += int64(n)
		return n, nil
	}
	if m.eof {
		return 0, io.EOF
	}
	if m.body == nil {
		body, err := m.open()
		if err != nil {
			return 0, err
		}
		if _, err := io.CopyN(io.Discard, body, m.skip); err != nil {
			body.Close()
			return 0, fmt.Errorf("the message changed since it was read: %w", err)
		}
		m.body = body
	}
	n, err := m.body.Read(p)
	m.pos += int64(n)
	if errors.Is(err, io.EOF) {
		m.eof = true
		m.body.Close()
		m.body = nil
	}
	return n, err
}

// Seek tells the position (Seek(0, io.SeekCurrent)) and rewinds to the
// start (Seek(0, io.SeekStart)); nothing else.
func (m *lazyMessage) Seek(offset int64, whence int) (int64, error) {
	switch {
	case whence == io.SeekCurrent && offset == 0:
		return m.pos, nil
	case whence == io.SeekStart && offset == 0:
		m.Close()
		m.pos, m.eof = 0, false
		return 0, nil
	}
	return 0, errors.New("a message can only be rewound to its start")
}

// Close closes the source if it is open.
func (m *lazyMessage) Close() error {
	if m.body != nil {
		err := m.body.Close()
		m.body = nil
		return err
	}
	return nil
}

// dotReader returns its input up to a line holding a lone ".", which
// ends a message on sendmail's standard input unless -i is given.
type dotReader struct {
	br      *bufio.Reader
	buf     []byte
	atStart bool
	done    bool
}

func newDotReader(r io.Reader) *dotReader {
	return &dotReader{br: bufio.NewReader(r), atStart: true}
}

func (d *dotReader) Read(p []byte) (int, error) {
	for len(d.buf) == 0 {
		if d.done {
			return 0, io.EOF
		}
		line, err := d.br.ReadSlice('\n')
		if d.atStart && (string(line) == ".\n" || string(line) == ".\r\n" || (string(line) == "." && errors.Is(err, io.EOF))) {
			d.done = true
			return 0, io.EOF
		}
		d.atStart = len(line) > 0 && line[len(line)-1] == '\n'
		d.buf = append(d.buf[:0], line...)
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			d.done = true
		default:
			return 0, err
		}
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}
