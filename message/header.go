package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxHeaderBytes bounds the header section ReadHeader reads.
const MaxHeaderBytes = 1 << 20

// Errors of reading a message's header and envelope; the errors returned
// wrap them, so errors.Is tells them apart.
var (
	// ErrHeaderTooLong: the header section is longer than MaxHeaderBytes.
	ErrHeaderTooLong = errors.New("the header is longer than 1 MiB: is this a message?")
	// ErrNoSender: the header names no sender (From, Sender, or their Resent- forms).
	ErrNoSender = errors.New("no sender: the message has no From field")
	// ErrNoRecipient: the header names no recipient (To, Cc, Bcc, or their Resent- forms).
	ErrNoRecipient = errors.New("no recipient: the message has no To, Cc or Bcc field")
)

// rawField is one field of a header as read.
type rawField struct {
	name string // as written, such as "Subject"
	raw  []byte // its lines as read, line endings and continuation lines included
}

// value returns the field's body, unfolded and trimmed.
func (f rawField) value() string {
	_, v, _ := bytes.Cut(f.raw, []byte(":"))
	s := strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(string(v))
	return strings.Trim(s, " \t")
}

// Header is the header section of a message as read by ReadHeader, kept as
// written, so that it is sent on unchanged but for the fields removed or
// added.
type Header struct {
	fields []rawField
	end    []byte // the blank line that ends it, or the first line of a body that follows without one
	read   int64  // bytes read from the source, an mbox "From " line included
}

// ReadHeader reads a message's header section from br, up to and including
// the blank line that ends it, and leaves the body in br. A first line
// "From ..." that is no header field (the envelope line of an mbox, which
// sendmail drops too) is dropped; a line that is neither a field nor a
// continuation ends the header and is kept as the start of the body. A
// header longer than MaxHeaderBytes is an error that wraps
// ErrHeaderTooLong.
func ReadHeader(br *bufio.Reader) (*Header, error) {
	h := &Header{}
	for first := true; ; first = false {
		line, err := readLine(br, MaxHeaderBytes-int(h.read))
		h.read += int64(len(line))
		if errors.Is(err, errLineTooLong) {
			return nil, ErrHeaderTooLong
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(line) == 0 {
			return h, nil // the end of the input
		}
		text := bytes.TrimRight(line, "\r\n")
		name := fieldName(text)
		switch {
		case first && name == "" && bytes.HasPrefix(line, []byte("From ")):
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
		case name != "":
			h.fields = append(h.fields, rawField{name: name, raw: bytes.Clone(line)})
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
	if checkFieldName(string(name)) != nil {
		return ""
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

// Has reports whether the header holds a field called name, in any case.
func (h *Header) Has(name string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}

// Get returns the value of the first field called name, unfolded and
// trimmed but not decoded, or "".
func (h *Header) Get(name string) string {
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			return f.value()
		}
	}
	return ""
}

// Del removes the fields called name and returns how many there were.
func (h *Header) Del(name string) int {
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

// DelBcc removes the Bcc and Resent-Bcc fields, which must not reach the
// recipients, and returns how many there were.
func (h *Header) DelBcc() int {
	return h.Del("Bcc") + h.Del("Resent-Bcc")
}

// Add appends the field name: value. The value is UTF-8 text: words that
// are not printable ASCII are encoded as RFC 2047 says (so an address
// such as "Zoë <zoe@example.com>" keeps its address readable), and long
// values are folded. A name or value holding CR, LF or NUL is refused.
func (h *Header) Add(name, value string) error {
	if err := checkFieldName(name); err != nil {
		return err
	}
	if err := checkValue(name, value); err != nil {
		return err
	}
	f, err := field(name, encodeText(value))
	if err != nil {
		return err
	}
	h.fields = append(h.fields, rawField{name: name, raw: []byte(f)})
	return nil
}

// AddAddresses appends the field name holding the addresses list, each
// checked as ParseAddress checks it and written as Address.String writes
// it, such as "From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>".
func (h *Header) AddAddresses(name string, list ...Address) error {
	if err := checkFieldName(name); err != nil {
		return err
	}
	s := make([]string, len(list))
	for i, a := range list {
		if err := a.check(); err != nil {
			return fmt.Errorf("the %s field: %w", name, err)
		}
		s[i] = a.String()
	}
	f, err := field(name, strings.Join(s, ", "))
	if err != nil {
		return err
	}
	h.fields = append(h.fields, rawField{name: name, raw: []byte(f)})
	return nil
}

// Addresses returns the addresses of the fields called names, in the
// order of the header, each once (compared without regard to case).
func (h *Header) Addresses(names ...string) ([]Address, error) {
	var out []Address
	seen := map[string]bool{}
	for _, f := range h.fields {
		for _, n := range names {
			if !strings.EqualFold(f.name, n) {
				continue
			}
			list, err := ParseAddressList(f.value())
			if err != nil {
				return nil, fmt.Errorf("the %s field: %w", f.name, err)
			}
			for _, a := range list {
				if k := strings.ToLower(a.Addr); !seen[k] {
					seen[k] = true
					out = append(out, a)
				}
			}
		}
	}
	return out, nil
}

// resent reports whether the message was resent: it holds a Resent-To,
// Resent-Cc or Resent-Bcc field (RFC 5322 section 3.6.6).
func (h *Header) resent() bool {
	return h.Has("Resent-To") || h.Has("Resent-Cc") || h.Has("Resent-Bcc")
}

// Sender returns the sender sendmail -t takes from the header: the first
// address of From, else of Sender; of Resent-From, else Resent-Sender,
// when the message was resent (it has Resent-To, Resent-Cc or Resent-Bcc).
// The error wraps ErrNoSender when there is none.
func (h *Header) Sender() (Address, error) {
	names := []string{"From", "Sender"}
	if h.resent() {
		names = []string{"Resent-From", "Resent-Sender"}
	}
	for _, n := range names {
		list, err := h.Addresses(n)
		if err != nil {
			return Address{}, err
		}
		if len(list) > 0 {
			return list[0], nil
		}
	}
	return Address{}, ErrNoSender
}

// Recipients returns the recipients sendmail -t takes from the header:
// the addresses of To, Cc and Bcc or, when the message was resent, of
// Resent-To, Resent-Cc and Resent-Bcc only, each once. It may return none.
func (h *Header) Recipients() ([]Address, error) {
	if h.resent() {
		return h.Addresses("Resent-To", "Resent-Cc", "Resent-Bcc")
	}
	return h.Addresses("To", "Cc", "Bcc")
}

// Envelope returns the envelope of the message by sendmail -t's rules:
// Sender and Recipients. Its errors wrap ErrNoSender, ErrNoRecipient or
// ErrInvalidAddress.
func (h *Header) Envelope() (*Envelope, error) {
	from, err := h.Sender()
	if err != nil {
		return nil, err
	}
	to, err := h.Recipients()
	if err != nil {
		return nil, err
	}
	if len(to) == 0 {
		return nil, ErrNoRecipient
	}
	env := &Envelope{From: from.Addr}
	for _, a := range to {
		env.To = append(env.To, a.Addr)
	}
	return env, nil
}

// Bytes returns the header section as it is to be sent: its fields as read
// (or added), and the blank line that ends it.
func (h *Header) Bytes() []byte {
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

// ReadLen returns how many bytes ReadHeader read from its source: the
// header and its blank line, and an mbox "From " line when there was one.
// The body starts that many bytes into the source.
func (h *Header) ReadLen() int64 { return h.read }

// ReadEnvelope reads the header of the message r holds and returns its
// envelope by sendmail -t's rules (see Header.Envelope) and the message to
// send: the header without its Bcc and Resent-Bcc fields, then the rest of
// r, which is read as the returned reader is, never held in memory.
func ReadEnvelope(r io.Reader) (*Envelope, io.Reader, error) {
	br := bufio.NewReader(r)
	h, err := ReadHeader(br)
	if err != nil {
		return nil, nil, err
	}
	env, err := h.Envelope()
	if err != nil {
		return nil, nil, err
	}
	h.DelBcc()
	return env, io.MultiReader(bytes.NewReader(h.Bytes()), br), nil
}
