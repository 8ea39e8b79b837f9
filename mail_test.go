package smtpkit_test

import (
	"errors"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/message"
	"github.com/smtpkit/smtpkit/smtptest"
)

// TestSendMessage sends a composed message in one call and checks what
// the server received: the envelope, SIZE, no Bcc field, and the parts.
func TestSendMessage(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	dir := t.TempDir()
	eml := filepath.Join(dir, "forwarded.eml")
	os.WriteFile(eml, []byte("From: x@example.com\nSubject: old\n\nÀ bientôt\n"), 0o600)
	m := &message.Message{From: "Zoë <zoe@example.com>", To: []string{"bob@example.org"}, Bcc: []string{"eve@example.org"},
		Subject: "Réunion", Text: "hello", EightBit: true, Attachments: []*message.Attachment{message.FileAttachment(eml)}}
	res, err := smtpkit.SendMessage(testContext(t), srv.Addr, srv.ClientOptions(), m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Accepted(), []string{"bob@example.org", "eve@example.org"}) {
		t.Errorf("accepted %v", res.Accepted())
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "zoe@example.com" || !got[0].TLS {
		t.Fatalf("the server got %+v", got)
	}
	if got[0].Options.Size != int64(len(got[0].Data)) || got[0].Options.Body != smtp.Body8BitMIME {
		t.Errorf("SIZE=%d for %d bytes, BODY=%q", got[0].Options.Size, len(got[0].Data), got[0].Options.Body)
	}
	data := string(got[0].Data)
	if strings.Contains(data, "eve@") || !strings.Contains(data, "Message-ID: "+m.MessageID) ||
		!strings.Contains(data, "Content-Type: message/rfc822") || !strings.Contains(data, "À bientôt") {
		t.Errorf("data:\n%s", data)
	}
	pm, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject")); s != "Réunion" {
		t.Errorf("Subject %q", s)
	}
}

// TestSendMessageRefusesBeforeConnecting checks that a message that
// cannot be written makes no connection.
func TestSendMessageRefusesBeforeConnecting(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	for _, m := range []*message.Message{
		{From: "a@example.com"},
		{From: "a@example.com\r\nX: y", To: []string{"b@example.org"}},
		{From: "a@example.com", To: []string{"b@example.org"}, Attachments: []*message.Attachment{message.FileAttachment("/nonexistent/x.pdf")}},
	} {
		if _, err := smtpkit.SendMessage(testContext(t), srv.Addr, srv.ClientOptions(), m); err == nil {
			t.Errorf("%+v was sent", m)
		}
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("%d connections", n)
	}
	if _, err := smtpkit.SendMessage(testContext(t), srv.Addr, srv.ClientOptions(), nil); !errors.Is(err, smtpkit.ErrInvalidArgument) {
		t.Errorf("a nil message: %v", err)
	}
}

// TestSendMail checks the one-call send of a written message, and that a
// refusal is reported while the connection is still quit.
func TestSendMail(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	msg := "Subject: hi\r\n\r\nhello\r\n"
	res, err := smtpkit.SendMail(testContext(t), srv.Addr, srv.ClientOptions(),
		&smtpkit.Envelope{From: "a@example.com", To: []string{"b@example.org"}}, strings.NewReader(msg))
	if err != nil || len(res.Accepted()) != 1 {
		t.Fatalf("%v %v", res, err)
	}
	if got := srv.Messages(); len(got) != 1 || string(got[0].Data) != msg {
		t.Errorf("the server got %+v", got)
	}
	if _, err := smtpkit.SendMail(testContext(t), srv.Addr, srv.ClientOptions(), nil, io.MultiReader()); !errors.Is(err, smtpkit.ErrInvalidArgument) {
		t.Errorf("a nil envelope: %v", err)
	}
	// The zero Options require TLS: a plaintext server is refused.
	_, err = smtpkit.SendMail(testContext(t), srv.Addr, nil, &smtpkit.Envelope{From: "a@example.com", To: []string{"b@example.org"}}, strings.NewReader(msg))
	if err == nil || len(srv.Messages()) != 1 {
		t.Errorf("sent over plaintext with the zero Options: %v", err)
	}
}
