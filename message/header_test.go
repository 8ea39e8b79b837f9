package message_test

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/message"
)

func addrs(list []message.Address) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.Addr)
	}
	return out
}

func TestReadHeader(t *testing.T) {
	in := "From alice@example.com Thu Jan  1 00:00:00 2026\r\n" +
		"From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\nTo: a@example.org,\r\n \"Last, First\" <b@example.org>\r\n" +
		"cc: team: c@example.org, d@example.org;\r\nBCC: e@example.org\r\nbcc: root\r\nSubject: hi\r\n\r\nbody\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	h, err := message.ReadHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	env, err := h.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	if env.From != "zoe@example.com" || !slices.Equal(env.To, []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org", "root"}) {
		t.Errorf("envelope %+v", env)
	}
	if from, _ := h.Sender(); from.Name != "Zoë" {
		t.Errorf("sender %+v", from)
	}
	if h.Get("to") != `a@example.org, "Last, First" <b@example.org>` || !h.Has("SUBJECT") || h.Has("Sender") {
		t.Errorf("Get %q", h.Get("to"))
	}
	if n := h.DelBcc(); n != 2 {
		t.Errorf("removed %d Bcc fields", n)
	}
	if err := h.Add("X-Note", "Zoë <zoe@example.com>"); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	want := "From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\nTo: a@example.org,\r\n \"Last, First\" <b@example.org>\r\n" +
		"cc: team: c@example.org, d@example.org;\r\nSubject: hi\r\nX-Note: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\n\r\n"
	if string(h.Bytes()) != want || string(rest) != "body\r\n" {
		t.Errorf("header %q, body %q", h.Bytes(), rest)
	}
	if h.ReadLen() != int64(len(in)-len("body\r\n")) {
		t.Errorf("ReadLen %d", h.ReadLen())
	}
	var h2 message.Header
	if err := h2.AddAddresses("Reply-To", message.Address{Name: "Zoë, D.", Addr: "zoe@example.com"}, message.Address{Addr: "root"}); err != nil {
		t.Fatal(err)
	}
	if got := string(h2.Bytes()); got != "Reply-To: =?utf-8?b?Wm/DqywgRC4=?= <zoe@example.com>, root\r\n\r\n" {
		t.Errorf("AddAddresses wrote %q", got)
	}
	if err := h2.AddAddresses("Reply-To", message.Address{Name: "x\r\nBcc: y", Addr: "a@example.com"}); err == nil {
		t.Errorf("AddAddresses took a name with CRLF")
	}
	for _, bad := range [][2]string{{"X-A", "a\r\nBcc: x@example.org"}, {"X A", "b"}, {"", "c"}, {"X-B", "\x00"}} {
		if err := h.Add(bad[0], bad[1]); err == nil {
			t.Errorf("Add(%q, %q) was accepted", bad[0], bad[1])
		}
	}

	// A body without a header, a header without a body, a first line
	// that is not a field.
	for _, tt := range []struct{ in, head, rest string }{
		{"just text\nmore\n", "just text\n", "more\n"},
		{"Subject: only", "Subject: only\r\n", ""},
		{"", "", ""},
		{" indented\n", " indented\n", ""},
		{"From someone Mon Jan 5 1:02 2026\nSubject: s\n\nb\n", "Subject: s\n\n", "b\n"},
	} {
		br := bufio.NewReader(strings.NewReader(tt.in))
		h, err := message.ReadHeader(br)
		rest, _ := io.ReadAll(br)
		if err != nil || string(h.Bytes()) != tt.head || string(rest) != tt.rest {
			t.Errorf("%q: head %q, rest %q, %v", tt.in, h.Bytes(), rest, err)
		}
	}
	_, err = message.ReadHeader(bufio.NewReader(strings.NewReader("X: " + strings.Repeat("a", message.MaxHeaderBytes))))
	if !errors.Is(err, message.ErrHeaderTooLong) {
		t.Errorf("a huge header: %v", err)
	}
}

// TestResent checks sendmail -t's rule for resent messages: the Resent-
// fields give the envelope, and both Bcc fields are removed.
func TestResent(t *testing.T) {
	in := "Resent-From: Fwd <fwd@example.com>\nResent-To: new@example.org\nResent-Bcc: hidden@example.org\n" +
		"From: orig@example.com\nTo: old@example.org\nBcc: oldhidden@example.org\n\nbody\n"
	env, r, err := message.ReadEnvelope(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if env.From != "fwd@example.com" || !slices.Equal(env.To, []string{"new@example.org", "hidden@example.org"}) {
		t.Errorf("envelope %+v", env)
	}
	out, _ := io.ReadAll(r)
	if want := "Resent-From: Fwd <fwd@example.com>\nResent-To: new@example.org\nFrom: orig@example.com\nTo: old@example.org\n\nbody\n"; string(out) != want {
		t.Errorf("sent %q", out)
	}
}

// TestReadEnvelopeStreams checks that the body is read only as the
// message is, never gathered in memory.
func TestReadEnvelopeStreams(t *testing.T) {
	head := "From: a@example.com\nTo: b@example.org\nBcc: c@example.org\n\n"
	src := &countingReader{r: io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, 64<<20))}
	env, r, err := message.ReadEnvelope(src)
	if err != nil {
		t.Fatal(err)
	}
	if src.n > 4096 {
		t.Errorf("ReadEnvelope read %d bytes of the source", src.n)
	}
	if !slices.Equal(env.To, []string{"b@example.org", "c@example.org"}) {
		t.Errorf("envelope %+v", env)
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != int64(len(head)-len("Bcc: c@example.org\n"))+64<<20 {
		t.Errorf("the message has %d bytes: %v", n, err)
	}
}

func TestReadEnvelopeErrors(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want error
	}{
		{"To: b@example.org\n\nx\n", message.ErrNoSender},
		{"From: a@example.com\n\nx\n", message.ErrNoRecipient},
		{"From: a@example.com\nResent-From: r@example.com\nTo: b@example.org\nResent-Cc: undisclosed:;\n\nx\n", message.ErrNoRecipient},
		{"From: a@example.com\nTo: b@example.org, <broken\n\nx\n", message.ErrInvalidAddress},
		{"From: a@example.com\nTo: b@exa\tmple.org\n\nx\n", message.ErrInvalidAddress},
	} {
		if _, _, err := message.ReadEnvelope(strings.NewReader(tt.in)); !errors.Is(err, tt.want) {
			t.Errorf("%q: %v, want %v", tt.in, err, tt.want)
		}
	}
}
