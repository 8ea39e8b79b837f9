package message

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// Envelope is who a message is from and to, as an SMTP envelope says it.
type Envelope struct {
	// From is the sender's address (Address.Addr); empty is the null sender.
	From string
	// To lists the recipients' addresses, each once.
	To []string
}

// Field is one header field of a Message: a name such as "In-Reply-To"
// and a value in UTF-8.
type Field struct {
	Name, Value string
}

// Message is an email to compose: its header, a text and/or HTML body, and
// attachments. The zero value is an empty message; set at least From and a
// recipient. WriteTo writes it as MIME, streaming the attachments.
//
// Each address field takes entries such as "alice@example.com",
// "Alice <alice@example.com>" or "Zoë <zoe@example.com>"; an entry may hold
// a list separated by commas. Every address is checked with CheckAddress.
type Message struct {
	// From is the author, and the envelope's sender.
	From string
	// ReplyTo lists where replies should go.
	ReplyTo []string
	// To and Cc are the recipients shown in the header.
	To, Cc []string
	// Bcc are recipients in the envelope only: no Bcc field is written.
	Bcc []string
	// Subject is the subject, in UTF-8.
	Subject string
	// Date is the date of the message; zero means the time of the first
	// write, which WriteTo stores here.
	Date time.Time
	// MessageID is the Message-ID, such as "<id@example.com>"; empty means a
	// new one on the domain of From, which WriteTo stores here.
	MessageID string
	// Fields lists more header fields (In-Reply-To, References,
	// List-Unsubscribe, X-...), written in order after the others. Values
	// that are not printable ASCII are RFC 2047-encoded word by word. The
	// fields Message writes itself (From, Reply-To, To, Cc, Bcc, Subject,
	// Date, Message-ID, MIME-Version, Content-*) are refused: set them
	// through Message's own fields.
	Fields []Field
	// Text is the text/plain body. A message without HTML always has a
	// text part, empty when Text is.
	Text string
	// HTML is the text/html body; with Text too, the two are sent as
	// multipart/alternative, the text first.
	HTML string
	// Attachments are the files and inline parts, in order. Their content
	// is read when the message is written, never held whole in memory.
	Attachments []*Attachment
	// EightBit lets an attached message (message/rfc822) that holds 8-bit
	// data go as 8bit, unchanged; without it such a message goes as
	// application/octet-stream in base64 (RFC 2046 section 5.2.1 forbids
	// base64 for message/rfc822). A message written with EightBit must be
	// sent with BODY=8BITMIME, as smtpkit.SendMessage does.
	EightBit bool

	seed string // makes the boundaries, fixed at the first write
}

// reserved are the fields Message writes itself.
var reserved = map[string]string{
	"From": "From", "Reply-To": "ReplyTo", "To": "To", "Cc": "Cc", "Bcc": "Bcc", "Subject": "Subject",
	"Date": "Date", "Message-Id": "MessageID", "Mime-Version": "",
}

// Envelope returns the envelope the message travels in: From's address,
// and the addresses of To, Cc and Bcc, each once.
func (m *Message) Envelope() (*Envelope, error) {
	from, err := m.sender()
	if err != nil {
		return nil, err
	}
	env := &Envelope{From: from.Addr}
	seen := map[string]bool{}
	for _, f := range []struct {
		name string
		list []string
	}{{"To", m.To}, {"Cc", m.Cc}, {"Bcc", m.Bcc}} {
		list, err := parseAddressFields(f.name, f.list)
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			if k := strings.ToLower(a.Addr); !seen[k] {
				seen[k] = true
				env.To = append(env.To, a.Addr)
			}
		}
	}
	if len(env.To) == 0 {
		return nil, errors.New("the message has no recipient: set Message.To, Cc or Bcc")
	}
	return env, nil
}

// sender returns From, parsed.
func (m *Message) sender() (Address, error) {
	if strings.TrimSpace(m.From) == "" {
		return Address{}, errors.New("the message has no sender: set Message.From")
	}
	a, err := ParseAddress(m.From)
	if err != nil {
		return Address{}, fmt.Errorf("Message.From: %w", err)
	}
	return a, nil
}

// prepare fixes what must not change when the message is written twice:
// its Date, Message-ID and boundaries.
func (m *Message) prepare() error {
	if m.seed == "" {
		var b [12]byte
		rand.Read(b[:])
		m.seed = hex.EncodeToString(b[:])
	}
	if m.Date.IsZero() {
		m.Date = time.Now()
	}
	if m.MessageID == "" {
		from, err := m.sender()
		if err != nil {
			return err
		}
		m.MessageID = NewMessageID(from.Addr)
	}
	return nil
}

// NewMessageID returns a new, unique Message-ID on the domain of the
// address from, or else on the host's name, such as
// "<20260102150405.5f2a...@example.com>".
func NewMessageID(from string) string {
	var b [12]byte
	rand.Read(b[:])
	domain := ""
	if i := strings.LastIndex(from, "@"); i >= 0 {
		domain = from[i+1:]
	}
	if !isDotAtom(domain) || !isASCII(domain) {
		domain, _ = os.Hostname()
	}
	if !isDotAtom(domain) || !isASCII(domain) {
		domain = "smtpkit.invalid"
	}
	return "<" + time.Now().UTC().Format("20060102150405") + "." + hex.EncodeToString(b[:]) + "@" + domain + ">"
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// checkMessageID checks a Message-ID: <left@right>, printable ASCII
// without white space.
func checkMessageID(id string) error {
	ok := len(id) > 2 && id[0] == '<' && id[len(id)-1] == '>' && strings.Count(id, "@") == 1 &&
		!strings.HasPrefix(id, "<@") && !strings.HasSuffix(id, "@>")
	for i := 1; ok && i < len(id)-1; i++ {
		c := id[i]
		ok = c > ' ' && c < 0x7f && c != '<' && c != '>'
	}
	if !ok {
		return fmt.Errorf("Message.MessageID %q is not a Message-ID such as <id@example.com>", id)
	}
	return nil
}

// header returns the message's header fields, folded, without the
// Content- fields of its body.
func (m *Message) header() (string, error) {
	var b strings.Builder
	add := func(name, value string) error {
		f, err := field(name, value)
		b.WriteString(f)
		return err
	}
	from, err := m.sender()
	if err != nil {
		return "", err
	}
	if err := add("From", from.String()); err != nil {
		return "", err
	}
	for _, f := range []struct {
		name, field string
		list        []string
	}{{"Reply-To", "ReplyTo", m.ReplyTo}, {"To", "To", m.To}, {"Cc", "Cc", m.Cc}} {
		list, err := parseAddressFields(f.field, f.list)
		if err != nil {
			return "", err
		}
		if len(list) == 0 {
			continue
		}
		s := make([]string, len(list))
		for i, a := range list {
			s[i] = a.String()
		}
		if err := add(f.name, strings.Join(s, ", ")); err != nil {
			return "", err
		}
	}
	if _, err := parseAddressFields("Bcc", m.Bcc); err != nil {
		return "", err
	}
	if m.Subject != "" {
		if err := checkValue("Subject", m.Subject); err != nil {
			return "", fmt.Errorf("Message.Subject: %w", err)
		}
		if err := add("Subject", encodeText(m.Subject)); err != nil {
			return "", err
		}
	}
	if err := add("Date", m.Date.Format(time.RFC1123Z)); err != nil {
		return "", err
	}
	if err := checkMessageID(m.MessageID); err != nil {
		return "", err
	}
	if err := add("Message-ID", m.MessageID); err != nil {
		return "", err
	}
	for i, f := range m.Fields {
		if err := checkFieldName(f.Name); err != nil {
			return "", fmt.Errorf("Message.Fields[%d]: %w", i, err)
		}
		canon := textproto.CanonicalMIMEHeaderKey(f.Name)
		if own, ok := reserved[canon]; ok || strings.HasPrefix(canon, "Content-") {
			why := "Message writes it itself"
			if own != "" {
				why = "set Message." + own + " instead"
			}
			return "", fmt.Errorf("Message.Fields[%d]: the %s field cannot be added: %s", i, f.Name, why)
		}
		if err := checkValue(f.Name, f.Value); err != nil {
			return "", fmt.Errorf("Message.Fields[%d]: %w", i, err)
		}
		if err := add(f.Name, encodeText(f.Value)); err != nil {
			return "", fmt.Errorf("Message.Fields[%d]: %w", i, err)
		}
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	return b.String(), nil
}

// countWriter counts what it writes to w; with a nil w it only counts.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.w == nil {
		c.n += int64(len(p))
		return len(p), nil
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteTo writes the message to w as MIME with CRLF line endings, reading
// each attachment as it goes: memory use does not grow with their size.
// It sets Date and MessageID when they are empty, so that a message written
// twice is the same message. A Message is not safe for concurrent use.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	err := m.write(cw, false)
	return cw.n, err
}

// ErrSizeUnknown is returned by Size for a message with an attachment read
// from an io.Reader whose length cannot be known without reading it.
var ErrSizeUnknown = errors.New("the message size is unknown until it is written: an attachment is read from a reader of unknown length")

// Size returns the number of bytes WriteTo will write, without reading
// the attachments whose length is known: files (each is opened, so one
// that cannot be read fails here), and readers that can seek or tell
// their length. An attached message (message/rfc822) is read, to choose
// its encoding. Like WriteTo, it sets Date and MessageID when empty. It
// returns ErrSizeUnknown when some attachment's length is unknown.
func (m *Message) Size() (int64, error) {
	cw := &countWriter{}
	err := m.write(cw, true)
	return cw.n, err
}

// Reader returns the message as a stream that a goroutine writes as it is
// read, for a function that takes an io.Reader, such as smtpkit's
// Client.Send. Close it when done, read to its end or not: Close stops the
// writing and waits for the goroutine to end.
func (m *Message) Reader() io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := m.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	return &pipeReader{PipeReader: pr, done: done}
}

type pipeReader struct {
	*io.PipeReader
	done chan struct{}
}

// Close stops the writer, if it has not finished, and waits for it.
func (p *pipeReader) Close() error {
	p.PipeReader.CloseWithError(errors.New("the message reader was closed"))
	<-p.done
	return nil
}
