package smtpkit_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/message"
	"github.com/smtpkit/smtpkit/smtptest"
)

// SendMessage composes, connects, sends and quits in one call. Against a
// real server, opts would name its security mode and a login, such as
// &smtpkit.Options{Auth: &smtpkit.Auth{...}}; the zero Options require TLS.
func ExampleSendMessage() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	m := &message.Message{
		From:    "Alice <alice@example.com>",
		To:      []string{"bob@example.org", "carol@example.net"},
		Subject: "The figures",
		Text:    "The figures are attached.",
		HTML:    "<p>The figures are <b>attached</b>.</p>",
		Attachments: []*message.Attachment{
			message.ReaderAttachment("figures.csv", strings.NewReader("month,sales\njan,12\n")),
		},
	}
	res, err := smtpkit.SendMessage(context.Background(), srv.Addr, srv.ClientOptions(), m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Accepted())
	got := srv.Messages()[0]
	fmt.Println(got.TLS, got.Options.Size > 0)
	// Output:
	// [bob@example.org carol@example.net]
	// true true
}

// SendMail sends a message that is already written; here its envelope is
// read from its header, as sendmail -t does.
func ExampleSendMail() {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()

	raw := "From: alice@example.com\r\nTo: bob@example.org\r\nBcc: archive@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"
	env, msg, err := message.ReadEnvelope(strings.NewReader(raw))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := smtpkit.SendMail(context.Background(), srv.Addr, srv.ClientOptions(),
		&smtpkit.Envelope{From: env.From, To: env.To}, msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Accepted(), strings.Contains(string(srv.Messages()[0].Data), "Bcc"))
	// Output: [bob@example.org archive@example.com] false
}
