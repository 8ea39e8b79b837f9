package main

import (
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
)

// TestBinarySendAttachedMessage checks that an attached .eml goes as
// message/rfc822 in 7bit, as RFC 2046 section 5.2.1 requires, and one
// with 8-bit data as a file in base64, since the CLI does not declare
// 8BITMIME.
func TestBinarySendAttachedMessage(t *testing.T) {
	srv := plainServer(t)
	dir := t.TempDir()
	ascii := writeFile(t, dir, "fwd.eml", "From: a@example.com\nSubject: old\n\nforwarded\n", 0o600)
	utf8 := writeFile(t, dir, "utf8.eml", "From: a@example.com\nSubject: old\n\nÀ bientôt\n", 0o600)
	r := execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--from", "me@example.com", "--to", "you@example.org",
		"--subject", "fwd", "--body", "see attached", "--attach", ascii, "--attach", utf8, "--header", "X-Note: été")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("the server got %d messages", len(got))
	}
	m, err := mail.ReadMessage(strings.NewReader(string(got[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	if note, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("X-Note")); note != "été" || strings.Contains(m.Header.Get("X-Note"), "é") {
		t.Errorf("X-Note %q", m.Header.Get("X-Note"))
	}
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types, ctes []string
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types, ctes = append(types, mt), append(ctes, p.Header.Get("Content-Transfer-Encoding"))
	}
	if strings.Join(types, " ") != "text/plain message/rfc822 application/octet-stream" || strings.Join(ctes, " ") != "7bit 7bit base64" {
		t.Errorf("parts %q %q:\n%s", types, ctes, got[0].Data)
	}
}
