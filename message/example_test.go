package message_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/message"
	"github.com/smtpkit/smtpkit/smtptest"
)

// A plain text message. Date and MessageID are set here so that the
// output is always the same; left empty, they are made when the message
// is written.
func Example() {
	m := &message.Message{
		From:      "Zoë <zoe@example.com>",
		To:        []string{"bob@example.org", "Carol <carol@example.net>"},
		Subject:   "Réunion demain",
		Text:      "À demain, 9h.\n",
		Date:      time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC),
		MessageID: "<1@example.com>",
	}
	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.ReplaceAll(b.String(), "\r\n", "\n")) // CRLF on the wire
	// Output:
	// From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>
	// To: bob@example.org, "Carol" <carol@example.net>
	// Subject: =?utf-8?q?R=C3=A9union?= demain
	// Date: Fri, 02 Jan 2026 09:00:00 +0000
	// Message-ID: <1@example.com>
	// MIME-Version: 1.0
	// Content-Type: text/plain; charset=utf-8
	// Content-Transfer-Encoding: quoted-printable
	//
	// =C3=80 demain, 9h.
}

// printParts prints the media type and file name of each part of a message.
func printParts(data []byte) {
	m, _ := mail.ReadMessage(bytes.NewReader(data))
	var walk func(ct string, body io.Reader, depth int)
	walk = func(ct string, body io.Reader, depth int) {
		mt, params, _ := mime.ParseMediaType(ct)
		fmt.Printf("%s%s", strings.Repeat("  ", depth), mt)
		if !strings.HasPrefix(mt, "multipart/") {
			fmt.Println()
			return
		}
		fmt.Println()
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			if name := p.FileName(); name != "" {
				fmt.Printf("%s%q (%s)\n", strings.Repeat("  ", depth+1), name, p.Header.Get("Content-Transfer-Encoding"))
			}
			walk(p.Header.Get("Content-Type"), p, depth+1)
		}
	}
	walk(m.Header.Get("Content-Type"), m.Body, 0)
}

// A message with an HTML body and its text version: mail programs show
// the richest part they can.
func Example_html() {
	m := &message.Message{
		From:    "news@example.com",
		To:      []string{"bob@example.org"},
		Subject: "This week",
		Text:    "Three things happened this week.",
		HTML:    "<p>Three things happened <b>this week</b>.</p>",
	}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		fmt.Println(err)
		return
	}
	printParts(b.Bytes())
	// Output:
	// multipart/alternative
	//   text/plain
	//   text/html
}

// A text and two attachments, one from a file and one from a reader, for
// two people. The attachments are read as the message is written.
func Example_attachments() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "rapport annuel.pdf")
	os.WriteFile(report, []byte("%PDF-1.7 ..."), 0o600)

	m := &message.Message{
		From:    "Alice <alice@example.com>",
		To:      []string{"bob@example.org", "carol@example.net"},
		Subject: "The report",
		Text:    "Here are the report and the data.",
		Attachments: []*message.Attachment{
			message.FileAttachment(report),
			message.ReaderAttachment("données.csv", strings.NewReader("a,b\n1,2\n")),
		},
	}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		fmt.Println(err)
		return
	}
	printParts(b.Bytes())
	// Output:
	// multipart/mixed
	//   text/plain
	//   "rapport annuel.pdf" (base64)
	//   application/pdf
	//   "données.csv" (base64)
	//   text/csv
}

// An HTML body that shows an image of its own: the image is an inline
// part, and the HTML refers to it by its Content-ID.
func Example_inline() {
	logo := message.ReaderAttachment("logo.png", bytes.NewReader([]byte("\x89PNG...")))
	logo.ContentID = "logo@example.com"
	m := &message.Message{
		From:        "alice@example.com",
		To:          []string{"bob@example.org"},
		Subject:     "Our new logo",
		Text:        "Our new logo is in the HTML version of this message.",
		HTML:        `<p>Our new logo: <img src="cid:logo@example.com" alt="logo"></p>`,
		Attachments: []*message.Attachment{logo},
	}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		fmt.Println(err)
		return
	}
	printParts(b.Bytes())
	// Output:
	// multipart/alternative
	//   text/plain
	//   multipart/related
	//     text/html
	//     "logo.png" (base64)
	//     image/png
}

// ReadEnvelope takes the envelope of a message that is already written
// from its header, as sendmail -t does, and gives the message to send
// without its Bcc field.
func ExampleReadEnvelope() {
	in := "From: Alice <alice@example.com>\r\n" +
		"To: bob@example.org\r\n" +
		"Cc: Carol <carol@example.net>\r\n" +
		"Bcc: dave@example.org\r\n" +
		"Subject: hello\r\n" +
		"\r\n" +
		"Hello.\r\n"
	env, msg, err := message.ReadEnvelope(strings.NewReader(in))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.From, env.To)
	out, _ := io.ReadAll(msg) // streamed: the body is read only now
	fmt.Print(strings.ReplaceAll(string(out), "\r\n", "\n"))
	// Output:
	// alice@example.com [bob@example.org carol@example.net dave@example.org]
	// From: Alice <alice@example.com>
	// To: bob@example.org
	// Cc: Carol <carol@example.net>
	// Subject: hello
	//
	// Hello.
}

// ParseAddress reads an address as a header holds it; CheckAddress checks
// one as an envelope carries it. Both refuse CR, LF and NUL.
func ExampleParseAddress() {
	a, err := message.ParseAddress("=?utf-8?q?Zo=C3=AB?= <zoe@example.com>")
	fmt.Printf("%q %q %v\n", a.Name, a.Addr, err)
	fmt.Println(a)
	_, err = message.ParseAddress("bob@example.org\r\nBcc: eve@example.org")
	fmt.Println(err)
	fmt.Println(message.CheckAddress("root"), message.CheckAddress("a b@example.com") != nil)
	// Output:
	// "Zoë" "zoe@example.com" <nil>
	// =?utf-8?q?Zo=C3=AB?= <zoe@example.com>
	// address "bob@example.org\r\nBcc: eve@example.org" holds '\r': CR, LF and NUL are not allowed in an address: invalid address
	// <nil> true
}

// Reader streams a Message into Client.Send, on a connection of your own
// (smtpkit.SendMessage does all of it in one call).
func ExampleMessage_Reader() {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()

	m := &message.Message{
		From:    "alice@example.com",
		To:      []string{"bob@example.org"},
		Bcc:     []string{"archive@example.com"},
		Subject: "hello",
		Text:    "Hello, Bob.",
	}
	env, err := m.Envelope()
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, srv.ClientOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)
	r := m.Reader()
	defer r.Close()
	res, err := c.Send(ctx, &smtpkit.Envelope{From: env.From, To: env.To}, r)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Accepted())
	// Output: [bob@example.org archive@example.com]
}
