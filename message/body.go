package message

import (
	"bytes"
	"io"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strconv"
	"strings"
	"unicode/utf8"
)

// node is one part of the MIME tree: a leaf with content, or a multipart
// of parts.
type node struct {
	header   [][2]string // the Content- fields
	content  func(w io.Writer) error
	boundary string
	parts    []*node
}

// textPart returns a text/plain or text/html part of body: 7bit when it
// is ASCII in short lines, quoted-printable otherwise; CRLF line endings.
func textPart(subtype, body string) *node {
	text := strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	plain := utf8.ValidString(text)
	for line := range strings.SplitSeq(text, "\n") {
		if len(line) > foldAt {
			plain = false
			break
		}
	}
	for i := 0; i < len(text) && plain; i++ {
		if c := text[i]; c >= 0x7f || c < 0x20 && c != '\n' && c != '\t' {
			plain = false
		}
	}
	cte, content := "7bit", []byte(strings.ReplaceAll(text, "\n", "\r\n"))
	if !plain {
		var b bytes.Buffer
		qp := quotedprintable.NewWriter(&b)
		qp.Write([]byte(text))
		qp.Close()
		cte, content = "quoted-printable", b.Bytes()
	}
	return &node{
		header: [][2]string{{"Content-Type", "text/" + subtype + "; charset=utf-8"}, {"Content-Transfer-Encoding", cte}},
		content: func(w io.Writer) error {
			_, err := w.Write(content)
			return err
		},
	}
}

// writer writes one message.
type writer struct {
	m       *Message
	cw      *countWriter
	measure bool // count the attachments of known length without reading them
	unknown bool // an attachment's length was unknown
	buf     *buffers
	next    int // the number of the next boundary
}

// multipart returns a multipart node of parts; params are the Content-Type's
// parameters besides the boundary.
func (w *writer) multipart(subtype string, params map[string]string, parts ...*node) *node {
	b := "=_" + w.m.seed + "." + strconv.Itoa(w.next) // "=_" cannot appear in base64 or quoted-printable
	w.next++
	return &node{
		header:   [][2]string{{"Content-Type", mediaType("multipart/"+subtype, withParam(params, "boundary", b))}},
		boundary: b,
		parts:    parts,
	}
}

// attachmentPart returns the part of attachment a.
func (w *writer) attachmentPart(a *Attachment, p plan) *node {
	return &node{header: a.header(p), content: func(dst io.Writer) error {
		if !w.measure {
			return a.write(dst, p, w.m.EightBit, w.buf)
		}
		if p.size < 0 {
			w.unknown = true
		} else {
			w.cw.n += p.size // what a.write would write, all of it to cw
		}
		return nil
	}}
}

// tree returns the MIME tree of the message: text and HTML as
// multipart/alternative, the HTML with its inline parts as
// multipart/related, and attachments after the body in multipart/mixed.
func (w *writer) tree(plans []plan) *node {
	m := w.m
	var inline, attached []*node
	for i, a := range m.Attachments {
		part := w.attachmentPart(a, plans[i])
		if a.ContentID != "" && m.HTML != "" {
			inline = append(inline, part)
		} else {
			attached = append(attached, part)
		}
	}
	var text, html *node
	if m.Text != "" || m.HTML == "" {
		text = textPart("plain", m.Text)
	}
	if m.HTML != "" {
		html = textPart("html", m.HTML)
	}
	if len(inline) > 0 {
		html = w.multipart("related", map[string]string{"type": "text/html"}, append([]*node{html}, inline...)...)
	}
	body := text
	switch {
	case text != nil && html != nil:
		body = w.multipart("alternative", nil, text, html)
	case html != nil:
		body = html
	}
	if len(attached) == 0 {
		return body
	}
	return w.multipart("mixed", nil, append([]*node{body}, attached...)...)
}

// write writes the message, or counts it when measuring.
func (m *Message) write(cw *countWriter, measure bool) error {
	if err := m.prepare(); err != nil {
		return err
	}
	head, err := m.header()
	if err != nil {
		return err
	}
	plans := make([]plan, len(m.Attachments))
	for i, a := range m.Attachments {
		if err := a.check(i); err != nil {
			return err
		}
		if plans[i], err = a.plan(m.EightBit, measure); err != nil {
			return err
		}
	}
	w := &writer{m: m, cw: cw, measure: measure}
	if !measure && len(m.Attachments) > 0 {
		w.buf = newBuffers()
	}
	root := w.tree(plans)
	var b strings.Builder
	b.WriteString(head)
	for _, f := range root.header {
		s, err := field(f[0], f[1])
		if err != nil {
			return err
		}
		b.WriteString(s)
	}
	b.WriteString("\r\n")
	if root.parts != nil {
		b.WriteString("This is a message in MIME format.\r\n")
	}
	if _, err := io.WriteString(cw, b.String()); err != nil {
		return err
	}
	if err := writeNode(cw, root); err != nil {
		return err
	}
	if w.unknown {
		return ErrSizeUnknown
	}
	return nil
}

// writeNode writes a node's content: a leaf's, or a multipart's parts.
func writeNode(w io.Writer, n *node) error {
	if n.parts == nil {
		return n.content(w)
	}
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(n.boundary); err != nil {
		return err
	}
	for _, p := range n.parts {
		h := make(textproto.MIMEHeader, len(p.header))
		for _, f := range p.header {
			v, err := foldValue(f[0], f[1])
			if err != nil {
				return err
			}
			h[f[0]] = []string{v}
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if err := writeNode(pw, p); err != nil {
			return err
		}
	}
	return mw.Close()
}
