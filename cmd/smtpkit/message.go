package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
)

// maxHeaderBytes bounds the header section read to find the envelope.
const maxHeaderBytes = 1 << 20

// headerField is one field of a message's header, as written.
type headerField struct {
	name string // as written, such as "Subject"
	raw  []byte // its lines as read, line endings and continuation lines included
}

// value returns the field's body, unfolded and trimmed.
func (f headerField) value() string {
	_, v, _ := bytes.Cut(f.raw, []byte(":"))
	s := strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(string(v))
	return strings.TrimSpace(s)
}

// header is the header section of a message, kept as written so that it
// can be sent on unchanged but for the fields removed or added.
type header struct {
	fields []headerField
	end    []byte // the blank line that ends it, or the first line of a body that follows without one
	read   int64  // bytes read from the source, an mbox "From " line included
}

// readHeader reads a message's header section from br, up to and
// including the blank line that ends it; a first line "From ..." (an mbox
// envelope line) is dropped. What remains in br is the body.
func readHeader(br *bufio.Reader) (*header, error) {
	h := &header{}
	for first := true; ; first = false {
		line, err := readLine(br, maxHeaderBytes-int(h.read))
		h.read += int64(len(line))
		if errors.Is(err, errLineTooLong) {
			return nil, messageError{fmt.Errorf("the header is longer than %s: is this a message?", humanBytes(maxHeaderBytes))}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(line) == 0 {
			return h, nil // the end of the input
		}
		text := bytes.TrimRight(line, "\r\n")
		switch {
		case first && isFromLine(line):
			// mbox's envelope line, not part of the message.
		case len(text) == 0:
			h.end = line
			return h, nil
		case line[0] == ' ' || line[0] == '\t':
			if len(h.fields) == 0 {
				h.end = line
				return h, nil
			}
			last := &h.fields[len(h.fields)-1]
			last.raw = append(last.raw, line...)
		case fieldName(text) != "":
			h.fields = append(h.fields, headerField{name: fieldName(text), raw: bytes.Clone(line)})
		default:
			h.end = line // a body without a blank line before it
			return h, nil
		}
		if err != nil {
			return h, nil
		}
	}
}

// fieldName returns the name of the header field line starts, or "".
func fieldName(line []byte) string {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return ""
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return ""
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return ""
		}
	}
	return string(name)
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line, its ending included, of at most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > limit {
			return line, errLineTooLong
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// has reports whether the header holds a field called name.
func (h *header) has(name string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}

// remove removes the fields called name and reports how many there were.
func (h *header) remove(name string) int {
	kept, n := h.fields[:0], 0
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			n++
			continue
		}
		kept = append(kept, f)
	}
	h.fields = kept
	return n
}

// add appends a field; value must be encoded and on one line.
func (h *header) add(name, value string) {
	h.fields = append(h.fields, headerField{name: name, raw: []byte(name + ": " + value + "\r\n")})
}

// addresses returns the addresses of the fields called names, each once.
func (h *header) addresses(names ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range h.fields {
		for _, n := range names {
			if !strings.EqualFold(f.name, n) {
				continue
			}
			for _, a := range parseAddresses(f.value()) {
				if k := strings.ToLower(a); !seen[k] {
					seen[k] = true
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// bytes returns the header section as it is to be sent.
func (h *header) bytes() []byte {
	var b bytes.Buffer
	for _, f := range h.fields {
		b.Write(f.raw)
	}
	if h.end == nil && len(h.fields) > 0 {
		return append(b.Bytes(), "\r\n"...) // a header without a body
	}
	b.Write(h.end)
	return b.Bytes()
}

var addressParser = &mail.AddressParser{WordDecoder: &mime.WordDecoder{}}

// parseAddresses returns the addresses of a list such as
// `Alice <a@example.com>, b@example.org, team: c@example.net;`, falling
// back on a lenient reading (a bare "root", say) when it does not parse.
func parseAddresses(list string) []string {
	var out []string
	if parsed, err := addressParser.ParseList(list); err == nil {
		for _, a := range parsed {
			out = append(out, a.Address)
		}
		return out
	}
	for _, part := range splitOutsideQuotes(list) {
		part = strings.TrimSpace(part)
		if i := strings.LastIndex(part, "<"); i >= 0 {
			if j := strings.Index(part[i:], ">"); j > 0 {
				part = part[i+1 : i+j]
			}
		}
		if part = strings.TrimSpace(part); part != "" && !strings.ContainsAny(part, " \t\"") {
			out = append(out, part)
		}
	}
	return out
}

// splitOutsideQuotes splits a list at the commas outside double quotes.
func splitOutsideQuotes(s string) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			i++
		case ',':
			if !quoted {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// parseAddress parses one address such as "Alice <a@example.com>" or
// "a@example.com"; a bare local name ("root") is taken as it is.
func parseAddress(s string) (*mail.Address, error) {
	s = strings.TrimSpace(s)
	if a, err := addressParser.Parse(s); err == nil {
		return a, nil
	}
	if s != "" && !strings.ContainsAny(s, " \t<>,\"\r\n") {
		return &mail.Address{Address: s}, nil
	}
	return nil, fmt.Errorf("%q is not an address such as alice@example.com or \"Alice <alice@example.com>\"", s)
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
func (e envelope) of(h *header) (smtpkit.Envelope, error) {
	var env smtpkit.Envelope
	switch {
	case e.fromSet || e.from != "":
		a, err := parseAddress(e.from)
		if e.from == "" || e.from == "<>" {
			a, err = &mail.Address{}, nil
		}
		if err != nil {
			return env, usageError{fmt.Errorf("the sender: %w", err)}
		}
		env.From = a.Address
	default:
		from := h.addresses("From")
		if len(from) == 0 {
			from = h.addresses("Sender")
		}
		if len(from) == 0 {
			return env, messageError{errors.New("no sender: the message has no From field; give --from, or from in the account")}
		}
		env.From = from[0]
	}
	env.To = append(env.To, e.to...)
	if e.fromHeader || len(e.to) == 0 {
		for _, a := range h.addresses("To", "Cc", "Bcc") {
			if !containsFold(env.To, a) {
				env.To = append(env.To, a)
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
		list := parseAddresses(arg)
		if len(list) == 0 && strings.TrimSpace(arg) != "" {
			return nil, usageError{fmt.Errorf("%q is not an address", arg)}
		}
		out = append(out, list...)
	}
	return out, nil
}

// messageID returns a new Message-ID for a message from the address from.
func messageID(from string) string {
	var b [12]byte
	rand.Read(b[:])
	domain := ""
	if i := strings.LastIndex(from, "@"); i >= 0 {
		domain = from[i+1:]
	}
	if domain == "" {
		domain, _ = os.Hostname()
	}
	if domain == "" || strings.ContainsAny(domain, " <>\r\n") {
		domain = "smtpkit.invalid"
	}
	return "<" + time.Now().UTC().Format("20060102150405") + "." + hex.EncodeToString(b[:]) + "@" + domain + ">"
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
