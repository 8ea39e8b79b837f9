package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// composed is a message made from flags: a text/plain body and, with
// attachments, a multipart/mixed message whose attachments are base64.
type composed struct {
	from        *mail.Address
	to, cc      []*mail.Address
	subject     string
	body        []byte
	attachments []string // file names
	headers     [][2]string
	date        time.Time
	messageID   string
	boundary    string
}

// newComposed fixes what must not change between writing the message
// twice: its date, Message-ID and boundary.
func newComposed(from *mail.Address) *composed {
	var b [15]byte
	rand.Read(b[:])
	return &composed{
		from:      from,
		date:      time.Now(),
		messageID: messageID(from.Address),
		boundary:  "smtpkit-" + hex.EncodeToString(b[:]),
	}
}

// size writes the message to nowhere and returns its size; it reads every
// attachment, so a file that cannot be read fails here, before any
// connection is made.
func (c *composed) size() (int64, error) {
	var n countingWriter
	err := c.writeTo(&n)
	return int64(n), err
}

type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

// reader returns the message as a stream written on the fly, and a
// function to call once it has been sent (or not), which waits for the
// writer to end.
func (c *composed) reader() (io.Reader, func()) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(c.writeTo(pw))
	}()
	return pr, func() {
		pr.CloseWithError(io.ErrClosedPipe) // stops the writer if the message was not read to its end
		<-done
	}
}

// writeTo writes the message with CRLF line endings.
func (c *composed) writeTo(w io.Writer) error {
	var h bytes.Buffer
	field := func(name, value string) { fmt.Fprintf(&h, "%s: %s\r\n", name, value) }
	field("From", c.from.String())
	if len(c.to) > 0 {
		field("To", addressList(c.to))
	}
	if len(c.cc) > 0 {
		field("Cc", addressList(c.cc))
	}
	if c.subject != "" {
		field("Subject", mime.QEncoding.Encode("utf-8", c.subject))
	}
	field("Date", c.date.Format(time.RFC1123Z))
	field("Message-ID", c.messageID)
	field("MIME-Version", "1.0")
	for _, f := range c.headers {
		field(f[0], f[1])
	}
	cte, text := encodeText(c.body)
	if len(c.attachments) == 0 {
		field("Content-Type", "text/plain; charset=utf-8")
		field("Content-Transfer-Encoding", cte)
		h.WriteString("\r\n")
		h.Write(text)
		_, err := w.Write(h.Bytes())
		return err
	}
	field("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": c.boundary}))
	h.WriteString("\r\nThis is a message in MIME format, with attachments.\r\n")
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(c.boundary); err != nil {
		return err
	}
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {cte},
	})
	if err != nil {
		return err
	}
	if _, err := part.Write(text); err != nil {
		return err
	}
	for _, name := range c.attachments {
		if err := attach(mw, name); err != nil {
			return err
		}
	}
	return mw.Close()
}

// attach writes the file as a base64 part.
func attach(mw *multipart.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return inputError{fmt.Errorf("--attach: %w", err)}
	}
	defer f.Close()
	base := filepath.Base(name)
	ctype := mime.TypeByExtension(filepath.Ext(base))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt, params = "application/octet-stream", nil
	}
	if params == nil {
		params = map[string]string{}
	}
	params["name"] = base
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {mime.FormatMediaType(mt, params)},
		"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": base})},
		"Content-Transfer-Encoding": {"base64"},
	})
	if err != nil {
		return err
	}
	lw := &lineWrapper{w: part, width: 76}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	if _, err := io.Copy(enc, f); err != nil {
		return inputError{fmt.Errorf("--attach %s: %w", name, err)}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return lw.end()
}

// lineWrapper breaks what it is given into lines of width bytes.
type lineWrapper struct {
	w     io.Writer
	width int
	col   int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		n := min(l.width-l.col, len(p))
		if _, err := l.w.Write(p[:n]); err != nil {
			return 0, err
		}
		p, l.col = p[n:], l.col+n
		if l.col == l.width {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return 0, err
			}
			l.col = 0
		}
	}
	return total, nil
}

// end ends the last line.
func (l *lineWrapper) end() error {
	if l.col == 0 {
		return nil
	}
	l.col = 0
	_, err := io.WriteString(l.w, "\r\n")
	return err
}

// addressList formats addresses, one a line past the first when long.
func addressList(list []*mail.Address) string {
	s := make([]string, len(list))
	n := 0
	for i, a := range list {
		s[i] = a.String()
		n += len(s[i]) + 2
	}
	if n < 70 {
		return strings.Join(s, ", ")
	}
	return strings.Join(s, ",\r\n ")
}

// encodeText returns the transfer encoding and the body with CRLF line
// endings: 7bit for short lines of ASCII, quoted-printable otherwise.
func encodeText(body []byte) (string, []byte) {
	text := strings.ReplaceAll(strings.ReplaceAll(string(body), "\r\n", "\n"), "\r", "\n")
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	plain := utf8.ValidString(text)
	for _, line := range strings.Split(text, "\n") {
		if len(line) > 78 {
			plain = false
		}
	}
	for i := 0; i < len(text) && plain; i++ {
		if text[i] >= 0x80 || (text[i] < 0x20 && text[i] != '\n' && text[i] != '\t') {
			plain = false
		}
	}
	if plain {
		return "7bit", []byte(strings.ReplaceAll(text, "\n", "\r\n"))
	}
	var b bytes.Buffer
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(text))
	qp.Close()
	return "quoted-printable", b.Bytes()
}
