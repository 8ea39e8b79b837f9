package message_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/message"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func write(t *testing.T, m *message.Message) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := m.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Errorf("WriteTo returned %d, wrote %d bytes", n, b.Len())
	}
	for i, line := range strings.Split(b.String(), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d has %d characters", i+1, len(line))
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i+1, line)
		}
	}
	return b.Bytes()
}

// crlf returns text as the message carries it: CRLF line endings, a final one.
func crlf(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return strings.ReplaceAll(text, "\n", "\r\n")
}

// TestWriteParsesBack writes a message with every kind of part and reads
// it back with net/mail and mime/multipart: each part decodes to what was
// given, byte for byte.
func TestWriteParsesBack(t *testing.T) {
	dir := t.TempDir()
	binary := randomBytes(100_000, 1)
	binPath := filepath.Join(dir, "données brutes.bin")
	if err := os.WriteFile(binPath, binary, 0o600); err != nil {
		t.Fatal(err)
	}
	png := randomBytes(3000, 2)
	longName := strings.Repeat("Résumé très détaillé ", 8) + ".pdf"
	pdf := randomBytes(57*3+1, 3)
	text := "Bonjour,\nvoici les fichiers.\n\nÀ bientôt,\nZoë\n"
	html := `<p>Bonjour, voici <b>le logo</b>: <img src="cid:logo@example.com"></p>`
	m := &message.Message{
		From:    "Zoë Durand <zoe@example.com>",
		ReplyTo: []string{"Équipe <team@example.com>"},
		To:      []string{"Bob <bob@example.org>, carol@example.net", `"Last, First" <lf@example.org>`},
		Cc:      []string{"Dave <dave@example.org>"},
		Bcc:     []string{"eve@example.org"},
		Subject: "Réunion: les chiffres du trimestre, et le logo 🎉",
		Fields:  []message.Field{{"In-Reply-To", "<abc@example.com>"}, {"X-Note", "fait à Paris"}},
		Text:    text,
		HTML:    html,
	}
	logo := message.ReaderAttachment("logo.png", bytes.NewReader(png))
	logo.ContentID = "logo@example.com"
	m.Attachments = []*message.Attachment{logo, message.FileAttachment(binPath), message.ReaderAttachment(longName, bytes.NewReader(pdf))}

	data := write(t, m)
	h, leaves := parse(t, data)

	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Zoë Durand" || from[0].Address != "zoe@example.com" {
		t.Errorf("From %v %v", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 3 || to[2].Name != "Last, First" {
		t.Errorf("To %v %v", to, err)
	}
	replyTo, err := h.AddressList("Reply-To")
	if err != nil || len(replyTo) != 1 || replyTo[0].Name != "Équipe" {
		t.Errorf("Reply-To %v %v", replyTo, err)
	}
	if got := decodeHeader(t, h.Get("Subject")); got != m.Subject {
		t.Errorf("Subject %q", got)
	}
	if got := decodeHeader(t, h.Get("X-Note")); got != "fait à Paris" || h.Get("In-Reply-To") != "<abc@example.com>" {
		t.Errorf("X-Note %q, In-Reply-To %q", got, h.Get("In-Reply-To"))
	}
	if h.Get("Bcc") != "" || bytes.Contains(data, []byte("eve@")) {
		t.Errorf("the Bcc address went out")
	}
	if d, err := h.Date(); err != nil || !d.Equal(m.Date.Truncate(time.Second)) {
		t.Errorf("Date %v %v, message's %v", d, err, m.Date)
	}
	if h.Get("Message-ID") != m.MessageID || !strings.HasSuffix(m.MessageID, "@example.com>") || h.Get("MIME-Version") != "1.0" {
		t.Errorf("Message-ID %q, stored %q", h.Get("Message-ID"), m.MessageID)
	}

	want := []struct {
		path, filename string
		body           []byte
	}{
		{"multipart/mixed/multipart/alternative/text/plain", "", []byte(crlf(text))},
		{"multipart/mixed/multipart/alternative/multipart/related/text/html", "", []byte(crlf(html))},
		{"multipart/mixed/multipart/alternative/multipart/related/image/png", "logo.png", png},
		{"multipart/mixed/application/octet-stream", "données brutes.bin", binary},
		{"multipart/mixed/application/pdf", longName, pdf},
	}
	if len(leaves) != len(want) {
		for _, l := range leaves {
			t.Log(l.path)
		}
		t.Fatalf("%d parts, want %d", len(leaves), len(want))
	}
	for i, w := range want {
		l := leaves[i]
		if l.path != w.path || l.filename != w.filename || !bytes.Equal(l.body, w.body) {
			t.Errorf("part %d: %s %q (%d bytes), want %s %q (%d bytes)", i, l.path, l.filename, len(l.body), w.path, w.filename, len(w.body))
		}
		if w.filename != "" && l.name != w.filename {
			t.Errorf("part %d: Content-Type name %q", i, l.name)
		}
	}
	if id := leaves[2].header.Get("Content-ID"); id != "<logo@example.com>" || !strings.HasPrefix(leaves[2].header.Get("Content-Disposition"), "inline") {
		t.Errorf("inline part: %v", leaves[2].header)
	}
	if !strings.Contains(leaves[1].header.Get("Content-Type"), "charset=utf-8") || leaves[0].header.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("text parts: %v %v", leaves[0].header, leaves[1].header)
	}
	if strings.Contains(leaves[3].header.Get("Content-Disposition"), "attachment") != true {
		t.Errorf("attachment: %v", leaves[3].header)
	}

	// Written again, the message is the same, byte for byte.
	if again := write(t, m); !bytes.Equal(again, data) {
		t.Errorf("the second write differs")
	}
}

// TestStructure checks the MIME tree of each combination of parts.
func TestStructure(t *testing.T) {
	att := func() *message.Attachment { return message.ReaderAttachment("a.txt", strings.NewReader("attached\n")) }
	img := func() *message.Attachment {
		a := message.ReaderAttachment("i.png", strings.NewReader("img"))
		a.ContentID = "i"
		return a
	}
	for _, tt := range []struct {
		name string
		m    message.Message
		want []string
	}{
		{"nothing", message.Message{}, []string{"text/plain"}},
		{"text", message.Message{Text: "hi"}, []string{"text/plain"}},
		{"html", message.Message{HTML: "<p>hi</p>"}, []string{"text/html"}},
		{"both", message.Message{Text: "hi", HTML: "<p>hi</p>"}, []string{"multipart/alternative/text/plain", "multipart/alternative/text/html"}},
		{"attachment only", message.Message{Attachments: []*message.Attachment{att()}},
			[]string{"multipart/mixed/text/plain", "multipart/mixed/text/plain"}},
		{"html and inline", message.Message{HTML: "<img src=cid:i>", Attachments: []*message.Attachment{img()}},
			[]string{"multipart/related/text/html", "multipart/related/image/png"}},
		{"inline without html", message.Message{Text: "hi", Attachments: []*message.Attachment{img()}},
			[]string{"multipart/mixed/text/plain", "multipart/mixed/image/png"}},
		{"all", message.Message{Text: "hi", HTML: "<img src=cid:i>", Attachments: []*message.Attachment{img(), att()}}, []string{
			"multipart/mixed/multipart/alternative/text/plain",
			"multipart/mixed/multipart/alternative/multipart/related/text/html",
			"multipart/mixed/multipart/alternative/multipart/related/image/png",
			"multipart/mixed/text/plain"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			m.From, m.To = "a@example.com", []string{"b@example.org"}
			_, leaves := parse(t, write(t, &m))
			var got []string
			for _, l := range leaves {
				got = append(got, l.path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestSize checks that Size says what WriteTo writes, for attachments of
// every length around the base64 line, without reading them.
func TestSize(t *testing.T) {
	dir := t.TempDir()
	for n := 0; n < 200; n += 1 + n/20 {
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, randomBytes(n, uint64(n)), 0o600); err != nil {
			t.Fatal(err)
		}
		eml := filepath.Join(dir, "m.eml")
		os.WriteFile(eml, []byte("Subject: x\n\n"+strings.Repeat("line\r\nlone cr\rx", n)), 0o600)
		m := &message.Message{From: "a@example.com", To: []string{"b@example.org"}, Text: strings.Repeat("é", n),
			Attachments: []*message.Attachment{message.FileAttachment(path), message.ReaderAttachment("r.bin", bytes.NewReader(randomBytes(n, 9))),
				message.FileAttachment(eml)}}
		size, err := m.Size()
		if err != nil {
			t.Fatal(err)
		}
		if data := write(t, m); int64(len(data)) != size {
			t.Errorf("%d bytes: Size %d, WriteTo %d", n, size, len(data))
		}
	}

	// A reader of unknown length cannot be measured, and is not read.
	r := &countingReader{r: strings.NewReader("abc")}
	m := &message.Message{From: "a@example.com", To: []string{"b@example.org"}, Attachments: []*message.Attachment{message.ReaderAttachment("x", r)}}
	if _, err := m.Size(); !errors.Is(err, message.ErrSizeUnknown) || r.n != 0 {
		t.Errorf("Size: %v, %d bytes read", err, r.n)
	}
	if _, err := m.WriteTo(io.Discard); err != nil || r.n != 3 {
		t.Errorf("WriteTo: %v, %d bytes read", err, r.n)
	}
	if _, err := m.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), "read already") {
		t.Errorf("a second write of a one-shot reader: %v", err)
	}

	// A file that cannot be read fails Size, before anything is sent.
	m = &message.Message{From: "a@example.com", To: []string{"b@example.org"}, Attachments: []*message.Attachment{message.FileAttachment(filepath.Join(dir, "missing"))}}
	if _, err := m.Size(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestAttachedMessage checks the encodings of an attached .eml: RFC 2046
// section 5.2.1 allows message/rfc822 only in 7bit, 8bit or binary.
func TestAttachedMessage(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ascii := "From: a@example.com\nSubject: fwd\n\nplain\n"
	utf8 := "From: a@example.com\nSubject: =?utf-8?q?x?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nÀ bientôt\n"
	for _, tt := range []struct {
		name      string
		a         *message.Attachment
		eightBit  bool
		wantType  string
		wantCTE   string
		wantBody  string
		wantFile  string
		wantValid bool
	}{
		{"7bit file", message.FileAttachment(file("fwd.eml", ascii)), false, "message/rfc822", "7bit", crlf(ascii), "fwd.eml", true},
		{"8bit file, 8BITMIME", message.FileAttachment(file("u.eml", utf8)), true, "message/rfc822", "8bit", crlf(utf8), "u.eml", true},
		{"8bit file, 7-bit path", message.FileAttachment(file("u7.eml", utf8)), false, "application/octet-stream", "base64", utf8, "u7.eml", true},
		{"NUL", message.FileAttachment(file("nul.eml", "Subject: x\n\na\x00b\n")), true, "application/octet-stream", "base64", "Subject: x\n\na\x00b\n", "nul.eml", true},
		{"long line", message.FileAttachment(file("long.eml", "Subject: x\n\n"+strings.Repeat("a", 999)+"\n")), true,
			"application/octet-stream", "base64", "Subject: x\n\n" + strings.Repeat("a", 999) + "\n", "long.eml", true},
		{"seekable reader", message.ReaderAttachment("r.eml", strings.NewReader(ascii)), false, "message/rfc822", "7bit", crlf(ascii), "r.eml", true},
		{"one-shot reader", message.ReaderAttachment("o.eml", io.MultiReader(strings.NewReader(ascii))), false,
			"application/octet-stream", "base64", ascii, "o.eml", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &message.Message{From: "a@example.com", To: []string{"b@example.org"}, Text: "see attached", EightBit: tt.eightBit,
				Attachments: []*message.Attachment{tt.a}}
			_, leaves := parse(t, write(t, m))
			if len(leaves) != 2 {
				t.Fatalf("%d parts", len(leaves))
			}
			l := leaves[1]
			if l.path != "multipart/mixed/"+tt.wantType || l.header.Get("Content-Transfer-Encoding") != tt.wantCTE ||
				string(l.body) != tt.wantBody || l.filename != tt.wantFile {
				t.Errorf("%s %s %q: %q", l.path, l.header.Get("Content-Transfer-Encoding"), l.filename, l.body)
			}
		})
	}
}

// TestRefused checks that what cannot be written safely is refused, with
// an error that names it, and that nothing is written.
func TestRefused(t *testing.T) {
	base := func() *message.Message {
		return &message.Message{From: "a@example.com", To: []string{"b@example.org"}}
	}
	for _, tt := range []struct {
		name   string
		change func(*message.Message)
		want   string
	}{
		{"no sender", func(m *message.Message) { m.From = "" }, "no sender"},
		{"CR in From", func(m *message.Message) { m.From = "a@example.com\r\nBcc: x@example.org" }, "CR, LF and NUL"},
		{"LF in To", func(m *message.Message) { m.To = []string{"b@example.org\nX: y"} }, "CR, LF and NUL"},
		{"NUL in Cc", func(m *message.Message) { m.Cc = []string{"c@exam\x00ple.org"} }, "CR, LF and NUL"},
		{"bad Bcc", func(m *message.Message) { m.Bcc = []string{"not an address"} }, "Message.Bcc"},
		{"bad Reply-To", func(m *message.Message) { m.ReplyTo = []string{"<a@b"} }, "Message.ReplyTo"},
		{"LF in Subject", func(m *message.Message) { m.Subject = "hi\nBcc: x@example.org" }, "CR, LF and NUL"},
		{"invalid UTF-8 Subject", func(m *message.Message) { m.Subject = "\xff" }, "not valid UTF-8"},
		{"a field named From", func(m *message.Message) { m.Fields = []message.Field{{"from", "x@example.org"}} }, "set Message.From"},
		{"a Content- field", func(m *message.Message) { m.Fields = []message.Field{{"Content-Type", "text/html"}} }, "writes it itself"},
		{"a bad field name", func(m *message.Message) { m.Fields = []message.Field{{"X Y", "z"}} }, "printable ASCII without a colon"},
		{"CR in a field", func(m *message.Message) { m.Fields = []message.Field{{"X-Y", "a\rb"}} }, "CR, LF and NUL"},
		{"bad Message-ID", func(m *message.Message) { m.MessageID = "<a b@c>" }, "not a Message-ID"},
		{"attachment name", func(m *message.Message) {
			m.Attachments = []*message.Attachment{message.ReaderAttachment("a\r\nb", strings.NewReader(""))}
		}, "CR, LF and NUL"},
		{"Content-ID", func(m *message.Message) {
			a := message.ReaderAttachment("a", strings.NewReader(""))
			a.ContentID = "<x>"
			m.Attachments = []*message.Attachment{a}
		}, "ContentID"},
		{"empty attachment", func(m *message.Message) { m.Attachments = []*message.Attachment{{Name: "x"}} }, "has no content"},
		{"bad content type", func(m *message.Message) {
			a := message.ReaderAttachment("a", strings.NewReader(""))
			a.ContentType = "text/"
			m.Attachments = []*message.Attachment{a}
		}, "ContentType"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.change(m)
			var b bytes.Buffer
			_, err := m.WriteTo(&b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one that says %q", err, tt.want)
			}
			if b.Len() > 0 {
				t.Errorf("wrote %q", b.String())
			}
		})
	}
}

// TestEnvelope checks the envelope a Message travels in.
func TestEnvelope(t *testing.T) {
	m := &message.Message{From: "Zoë <zoe@example.com>", To: []string{"Bob <bob@example.org>, root"}, Cc: []string{"BOB@example.org"},
		Bcc: []string{`"a b"@example.net`}}
	env, err := m.Envelope()
	if err != nil || env.From != "zoe@example.com" || !slices.Equal(env.To, []string{"bob@example.org", "root", `"a b"@example.net`}) {
		t.Errorf("%+v %v", env, err)
	}
	if _, err := (&message.Message{From: "a@example.com"}).Envelope(); err == nil || !strings.Contains(err.Error(), "no recipient") {
		t.Errorf("no recipient: %v", err)
	}
}

// TestReaderClose checks that a Reader closed before its end stops its writer.
func TestReaderClose(t *testing.T) {
	m := &message.Message{From: "a@example.com", To: []string{"b@example.org"},
		Attachments: []*message.Attachment{message.ReaderAttachment("big", io.LimitReader(zeros{}, 100<<20))}}
	r := m.Reader()
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	r.Close() // goleak fails the run if the writer goes on

	m.Attachments = []*message.Attachment{message.ReaderAttachment("small", strings.NewReader("abc"))}
	r = m.Reader()
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Contains(got, []byte("YWJj")) {
		t.Errorf("%v\n%s", err, got)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestStreaming checks that an attachment is streamed: writing 256 MiB
// allocates a small, fixed amount of memory.
func TestStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 256 MiB")
	}
	const size = 256 << 20
	m := &message.Message{From: "a@example.com", To: []string{"b@example.org"}, Text: "big",
		Attachments: []*message.Attachment{message.ReaderAttachment("big.bin", io.LimitReader(zeros{}, size))}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := m.WriteTo(io.Discard)
	runtime.ReadMemStats(&after)
	if err != nil || n < size*4/3 {
		t.Fatalf("wrote %d bytes: %v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("writing a %d MiB attachment allocated %d KiB", size>>20, alloc>>10)
	}
}
