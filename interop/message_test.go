package interop_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/message"
)

// delivered is a part of a delivered message, decoded.
type delivered struct {
	mediaType, filename, name, contentID string
	body                                 []byte
}

// readParts reads the leaves of a delivered message with net/mail and
// mime/multipart, decoding their transfer encodings.
func readParts(t *testing.T, h textproto.MIMEHeader, body io.Reader, out *[]delivered) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			readParts(t, p.Header, p, out)
		}
	}
	var r io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", mt, err)
	}
	d := delivered{mediaType: mt, body: b, contentID: h.Get("Content-ID")}
	if cd := h.Get("Content-Disposition"); cd != "" {
		_, dp, err := mime.ParseMediaType(cd)
		if err != nil {
			t.Fatalf("Content-Disposition %q: %v", cd, err)
		}
		d.filename = dp["filename"]
	}
	d.name, _ = new(mime.WordDecoder).DecodeHeader(params["name"])
	*out = append(*out, d)
}

// newlineStripper drops CR and LF, which base64.NewDecoder only skips
// within its own buffer.
type newlineStripper struct{ r io.Reader }

func (s newlineStripper) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	return copy(p, bytes.ReplaceAll(bytes.ReplaceAll(p[:n], []byte("\r"), nil), []byte("\n"), nil)), err
}

// lf returns text with LF line endings, as the Maildir holds it, and a final one.
func lf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// TestMessageThroughPostfix composes a message with a text and an HTML
// body, an inline image, a binary attachment with a UTF-8 file name and
// an attached message in 8bit, sends it through Postfix with SendMessage,
// and checks in the Maildir that every part decodes to the original bytes
// and every header to the original text.
func TestMessageThroughPostfix(t *testing.T) {
	p := needPeers(t)
	addr := p.addr(t, keyPlain)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	binary := make([]byte, 300_000)
	for i := range binary {
		binary[i] = byte(rng.Uint32())
	}
	binName := "données été — 日本.bin"
	binPath := filepath.Join(dir, binName)
	if err := os.WriteFile(binPath, binary, 0o600); err != nil {
		t.Fatal(err)
	}
	png := binary[:5000]
	eml := "From: old@example.com\r\nSubject: =?utf-8?q?ancien?=\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\nÀ bientôt, ça va ?\r\n"
	id := fmt.Sprintf("<smtpkit-message-%d@example.com>", time.Now().UnixNano())
	text := "Bonjour,\nles fichiers sont joints.\nÀ bientôt.\n"
	html := `<p>Bonjour, voici <b>le logo</b> : <img src="cid:logo@example.com"></p>`

	logo := message.ReaderAttachment("logo.png", bytes.NewReader(png))
	logo.ContentID = "logo@example.com"
	m := &message.Message{
		From:      "Zoë Durand <alice@example.com>",
		To:        []string{"Bob <bob@example.org>"},
		Bcc:       []string{"hidden@example.org"},
		Subject:   "Réunion : chiffres, logo et pièce jointe 🎉",
		MessageID: id,
		Text:      text,
		HTML:      html,
		EightBit:  true,
		Attachments: []*message.Attachment{logo, message.FileAttachment(binPath),
			message.ReaderAttachment("transféré.eml", strings.NewReader(eml))},
	}
	res, err := smtpkit.SendMessage(testContext(t), addr, p.options(t, smtpkit.SecurityNone), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Accepted()) != 2 {
		t.Errorf("accepted %v", res.Accepted())
	}

	got := p.waitForMail(t, id)
	msg, err := mail.ReadMessage(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	if s, _ := dec.DecodeHeader(msg.Header.Get("Subject")); s != m.Subject {
		t.Errorf("Subject %q", s)
	}
	if from, err := msg.Header.AddressList("From"); err != nil || from[0].Name != "Zoë Durand" {
		t.Errorf("From %v %v", from, err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Errorf("a Bcc field was delivered: %q", msg.Header.Get("Bcc"))
	}
	var parts []delivered
	readParts(t, textproto.MIMEHeader(msg.Header), msg.Body, &parts)
	want := []delivered{
		{mediaType: "text/plain", body: []byte(lf(text))},
		{mediaType: "text/html", body: []byte(lf(html))},
		{mediaType: "image/png", filename: "logo.png", name: "logo.png", contentID: "<logo@example.com>", body: png},
		{mediaType: "application/octet-stream", filename: binName, name: binName, body: binary},
		{mediaType: "message/rfc822", filename: "transféré.eml", name: "transféré.eml", body: []byte(lf(eml))},
	}
	if len(parts) != len(want) {
		t.Fatalf("%d parts delivered, want %d:\n%s", len(parts), len(want), got)
	}
	for i, w := range want {
		g := parts[i]
		body := g.body
		if strings.HasPrefix(g.mediaType, "text/") || g.mediaType == "message/rfc822" {
			body = []byte(lf(string(body))) // the Maildir holds LF line endings
		}
		if g.mediaType != w.mediaType || g.filename != w.filename || g.name != w.name || g.contentID != w.contentID || !bytes.Equal(body, w.body) {
			t.Errorf("part %d: %s %q %q %q, %d bytes; want %s %q %q %q, %d bytes", i, g.mediaType, g.filename, g.name, g.contentID, len(body),
				w.mediaType, w.filename, w.name, w.contentID, len(w.body))
		}
	}
}
