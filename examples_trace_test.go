package smtpkit_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// Trace receives typed events; a program matches on their types and fields
// (here printed without timings or addresses, which change from run to run).
func ExampleOptions_trace() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	opts := srv.ClientOptions() // SecurityStartTLS, trusting the test certificate
	opts.LocalName = "client.example.com"
	opts.Trace = func(e smtpkit.Event) {
		switch e := e.(type) {
		case smtpkit.ConnectDone:
			fmt.Println("connected:", e.Err == nil)
		case smtpkit.CommandSent:
			fmt.Printf("C: %s (TLS %v)\n", e.Line, e.TLS)
		case smtpkit.ReplyRead:
			fmt.Println("S:", e.Reply.Code)
		case smtpkit.Capable:
			fmt.Printf("capabilities: STARTTLS %v, CHUNKING %v\n", e.Capabilities.StartTLS(), e.Capabilities.Chunking())
		case smtpkit.SecurityChosen:
			fmt.Println("security:", e.Security, e.Reason)
		case smtpkit.TLSDone:
			fmt.Println("TLS handshake:", tls.VersionName(e.State.Version), e.Err)
		case smtpkit.DataSent:
			fmt.Printf("data: %d bytes, BDAT %v, last %v\n", e.Bytes, e.Chunk, e.Last)
		case smtpkit.TransactionDone:
			fmt.Println("sent to", e.Result.Accepted(), e.Err)
		case smtpkit.PhaseDone:
			if e.Err != nil {
				fmt.Println("failed:", e.Phase, e.Err)
			}
		}
	}

	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	env := &smtpkit.Envelope{From: "app@example.com", To: []string{"alice@example.com"}}
	if _, err := c.Send(ctx, env, strings.NewReader("Subject: Hi\r\n\r\nHi.\r\n")); err != nil {
		fmt.Println(err)
	}
	c.Quit(ctx)
	// Output:
	// connected: true
	// S: 220
	// C: EHLO client.example.com (TLS false)
	// S: 250
	// capabilities: STARTTLS true, CHUNKING true
	// security: starttls starttls-offered
	// C: STARTTLS (TLS false)
	// S: 220
	// TLS handshake: TLS 1.3 <nil>
	// C: EHLO client.example.com (TLS true)
	// S: 250
	// capabilities: STARTTLS false, CHUNKING true
	// C: MAIL FROM:<app@example.com> SIZE=20 (TLS true)
	// C: RCPT TO:<alice@example.com> (TLS true)
	// C: BDAT 20 LAST (TLS true)
	// data: 20 bytes, BDAT true, last true
	// S: 250
	// S: 250
	// S: 250
	// sent to [alice@example.com] <nil>
	// C: QUIT (TLS true)
	// S: 221
}
