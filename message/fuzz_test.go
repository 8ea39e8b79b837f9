package message_test

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smtpkit/smtpkit/message"
)

// FuzzHeaderEncoding writes a message whose Subject, a field of its own
// and an attachment's file name hold the fuzzed text, and reads it back
// with net/mail and mime: every line is ASCII of at most 998 characters,
// and each value decodes to what was given.
func FuzzHeaderEncoding(f *testing.F) {
	for _, s := range []string{"hello", "Réunion à 9h", "=?utf-8?q?x?=", "a\tb  c", "  padded  ", "日本語のテキスト",
		strings.Repeat("long ", 100), strings.Repeat("x", 2000), "mixed ascii and ü and emoji 🎉 here", "tab\there",
		"ctl\x01\x7f", "?= =? =?", "a \t b", "_under_score_", "\"quoted\" (comment) <angle>; a=b"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, text, name string) {
		if !utf8.ValidString(text) || strings.ContainsAny(text, "\r\n\x00") || strings.ContainsAny(name, "\r\n\x00") {
			return // refused, as TestRefused checks
		}
		m := &message.Message{From: "a@example.com", To: []string{"b@example.org"}, Subject: text,
			Fields:      []message.Field{{"X-Fuzz", text}},
			Attachments: []*message.Attachment{message.ReaderAttachment(name, strings.NewReader("x"))}}
		var b bytes.Buffer
		if _, err := m.WriteTo(&b); err != nil {
			t.Fatalf("%q, %q: %v", text, name, err)
		}
		head, _, _ := strings.Cut(b.String(), "\r\n\r\n")
		for _, line := range strings.Split(head, "\r\n") {
			if len(line) > 998 {
				t.Fatalf("a header line of %d characters", len(line))
			}
			for i := 0; i < len(line); i++ {
				if line[i] >= 0x80 || line[i] < 0x20 && line[i] != '\t' {
					t.Fatalf("a header line holds %q: %q", line[i], line)
				}
			}
		}
		h, leaves := parse(t, b.Bytes())
		want := strings.Trim(text, " \t")
		if got := decodeHeader(t, h.Get("Subject")); got != want {
			t.Errorf("Subject %q decodes to %q", text, got)
		}
		if got := decodeHeader(t, h.Get("X-Fuzz")); got != want {
			t.Errorf("X-Fuzz %q decodes to %q", text, got)
		}
		wantName := strings.ToValidUTF8(name, "\uFFFD")
		if len(leaves) != 2 || leaves[1].filename != wantName || leaves[1].name != wantName {
			t.Errorf("file name %q: %d parts, filename %q, name %q", name, len(leaves), leaves[len(leaves)-1].filename, leaves[len(leaves)-1].name)
		}
	})
}

// FuzzAddressList checks that what ParseAddressList accepts passes
// CheckAddress, reads back the same from its String, and goes into a
// header that net/mail reads back.
func FuzzAddressList(f *testing.F) {
	for _, s := range []string{"a@example.com", "Zoë <z@example.com>, root", `"Last, First" <lf@example.com>`, "team: a@b.c, d@e.f;",
		`<"a b"@example.com>`, "=?utf-8?q?Zo=C3=AB?= <z@example.com>", "a@[192.0.2.1]", "x <y>", "a@b (c)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := message.ParseAddressList(s)
		if err != nil {
			return
		}
		for _, a := range list {
			if err := message.CheckAddress(a.Addr); err != nil {
				t.Fatalf("%q gives %+v, which fails CheckAddress: %v", s, a, err)
			}
			if strings.ContainsAny(a.Name+a.Addr, "\r\n\x00") {
				t.Fatalf("%q gives %+v", s, a)
			}
			again, err := message.ParseAddress(a.String())
			if err != nil || again.Addr != a.Addr {
				t.Fatalf("%q gives %+v, whose String %q reads back as %+v, %v", s, a, a.String(), again, err)
			}
		}
		if len(list) == 0 {
			return
		}
		m := &message.Message{From: "a@example.com", To: []string{s}}
		var b bytes.Buffer
		if _, err := m.WriteTo(&b); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		for _, a := range list {
			if !strings.Contains(a.Addr, "@") || strings.Contains(a.Addr, `"`) {
				return // net/mail reads neither bare names nor quoted local parts back as written
			}
		}
		msg, err := mail.ReadMessage(&b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := msg.Header.AddressList("To")
		if err != nil || len(got) != len(list) {
			t.Fatalf("%q: To %q reads back as %v, %v", s, msg.Header.Get("To"), got, err)
		}
		for i, a := range got {
			if a.Address != list[i].Addr {
				t.Errorf("%q: address %d reads back as %q, not %q", s, i, a.Address, list[i].Addr)
			}
		}
	})
}
