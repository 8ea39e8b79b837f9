package smtpkit_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/message"
	"github.com/smtpkit/smtpkit/smtptest"
)

// dialRaw dials a raw server in plaintext.
func dialRaw(t *testing.T, srv *smtptest.RawServer) *smtpkit.Client {
	t.Helper()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readData reads DATA lines up to the lone ".", returning them joined by CRLF.
func readData(c *smtptest.RawConn) (string, error) {
	var lines []string
	for {
		l, err := c.ReadLine()
		if err != nil {
			return "", err
		}
		if l == "." {
			return strings.Join(lines, "\r\n") + "\r\n", nil
		}
		lines = append(lines, l)
	}
}

func TestSendThroughGoSMTP(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit(testContext(t))
	big := strings.Repeat("0123456789abcdef\n", 40000) // 680 KB: several BDAT chunks, bare LFs
	messages := []string{
		"Subject: one\r\n\r\nHello\r\n",
		"Subject: two\n\n.leading dot\nno final newline",
		"Subject: three\r\n\r\n" + big,
	}
	for i, m := range messages {
		res, err := c.Send(testContext(t), &smtpkit.Envelope{
			From: "sender@example.com",
			To:   []string{"a@example.com", "b@example.org"},
		}, strings.NewReader(m))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got := res.Accepted(); len(got) != 2 || res.Reply.Code != 250 {
			t.Errorf("message %d: accepted %q, final %v", i, got, res.Reply)
		}
	}
	got := srv.Messages()
	if len(got) != 3 {
		t.Fatalf("server has %d messages, want 3", len(got))
	}
	wants := []string{
		"Subject: one\r\n\r\nHello\r\n",
		"Subject: two\r\n\r\n.leading dot\r\nno final newline\r\n",
		"Subject: three\r\n\r\n" + strings.ReplaceAll(big, "\n", "\r\n"),
	}
	for i, m := range got {
		if string(m.Data) != wants[i] {
			t.Errorf("message %d arrived as %d bytes %.60q..., want %d bytes %.60q...", i, len(m.Data), m.Data, len(wants[i]), wants[i])
		}
		if m.From != "sender@example.com" || !slices.Equal(m.To, []string{"a@example.com", "b@example.org"}) || !m.TLS {
			t.Errorf("message %d: from %q to %q TLS %v", i, m.From, m.To, m.TLS)
		}
	}
}

// TestSendPipelinedChunkedOnTheWire checks the one-round-trip transaction:
// MAIL, RCPT and BDAT LAST with the data, in one write.
func TestSendPipelinedChunkedOnTheWire(t *testing.T) {
	got := make(chan []string, 1)
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "PIPELINING", "CHUNKING", "SIZE 1000") {
			return
		}
		var lines []string
		for range 4 { // MAIL, RCPT, BDAT, data line
			l, err := c.ReadLine()
			if err != nil {
				return
			}
			lines = append(lines, l)
		}
		got <- lines
		c.Send("250 2.1.0 ok", "250 2.1.5 ok", "250 2.0.0 queued as ABC123")
		c.WaitClose()
	})
	defer srv.Close()
	c := dialRaw(t, srv)
	res, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader("Hi\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"MAIL FROM:<a@x.test> SIZE=3", "RCPT TO:<b@y.test>", "BDAT 4 LAST", "Hi"}
	if lines := <-got; !slices.Equal(lines, want) {
		t.Errorf("server read %q, want %q", lines, want)
	}
	if res.Reply.Text() != "queued as ABC123" || res.Reply.Enhanced != [3]int{} {
		// No ENHANCEDSTATUSCODES was announced: the text is kept whole.
		if res.Reply.Text() != "2.0.0 queued as ABC123" {
			t.Errorf("final reply %+v", res.Reply)
		}
	}
}

// scriptDATA is a server without CHUNKING that answers RCPT with the given
// replies (in order) and records the data it receives.
func scriptDATA(t *testing.T, pipelining bool, rcptReplies []string, dataReply string, data chan<- string) *smtptest.RawServer {
	ext := []string{"ENHANCEDSTATUSCODES"}
	if pipelining {
		ext = append(ext, "PIPELINING")
	}
	return smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, ext...) {
			return
		}
		if _, err := c.Expect("MAIL"); err != nil {
			return
		}
		if !pipelining {
			c.Send("250 2.1.0 ok")
		}
		var replies []string
		if pipelining {
			replies = append(replies, "250 2.1.0 ok")
		}
		for _, r := range rcptReplies {
			if _, err := c.Expect("RCPT"); err != nil {
				return
			}
			if pipelining {
				replies = append(replies, r)
			} else {
				c.Send(r)
			}
		}
		if _, err := c.Expect("DATA"); err != nil {
			return
		}
		c.Send(append(replies, dataReply)...)
		if !strings.HasPrefix(dataReply, "354") {
			c.WaitClose()
			return
		}
		d, err := readData(c)
		if err != nil {
			return
		}
		data <- d
		c.Send("250 2.0.0 queued")
		c.WaitClose()
	})
}

func TestSendDATADotStuffedAndNormalised(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			data := make(chan string, 1)
			srv := scriptDATA(t, pipelining, []string{"250 2.1.5 ok"}, "354 go ahead", data)
			defer srv.Close()
			c := dialRaw(t, srv)
			msg := "Subject: x\n\n.\n..two\r\nend.\r\n.\rlast"
			if _, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader(msg)); err != nil {
				t.Fatal(err)
			}
			// The server's reader strips one dot from dot-stuffed lines.
			want := "Subject: x\r\n\r\n.\r\n..two\r\nend.\r\n.\r\nlast\r\n"
			if got := unstuff(<-data); got != want {
				t.Errorf("server reassembled %q, want %q", got, want)
			}
		})
	}
}

func unstuff(s string) string {
	lines := strings.Split(s, "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, ".")
	}
	return strings.Join(lines, "\r\n")
}

func TestSendPartialRefusal(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			data := make(chan string, 1)
			srv := scriptDATA(t, pipelining, []string{"550 5.1.1 no such user", "250 2.1.5 ok", "452 4.2.2 mailbox full"}, "354 go ahead", data)
			defer srv.Close()
			c := dialRaw(t, srv)
			res, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"nobody@y.test", "b@y.test", "full@y.test"}}, strings.NewReader("hi\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := <-data; got != "hi\r\n" {
				t.Errorf("data %q", got)
			}
			if got := res.Accepted(); !slices.Equal(got, []string{"b@y.test"}) {
				t.Errorf("accepted %q", got)
			}
			refused := res.Refused()
			if len(refused) != 2 || refused[0].Reply.Code != 550 || refused[0].Reply.Enhanced != [3]int{5, 1, 1} ||
				refused[1].Address != "full@y.test" || refused[1].Reply.Code/100 != 4 {
				t.Errorf("refused %+v", refused)
			}
		})
	}
}

func TestSendAllRecipientsRefusedSendsNoData(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
				ext := []string{"ENHANCEDSTATUSCODES"}
				if pipelining {
					ext = append(ext, "PIPELINING")
				}
				if !greetAndEHLO(c, ext...) {
					return
				}
				c.Expect("MAIL")
				if !pipelining {
					c.Send("250 ok")
					c.Expect("RCPT")
					c.Send("550 5.1.1 unknown")
				} else {
					c.Expect("RCPT")
					c.Expect("DATA")
					c.Send("250 ok", "550 5.1.1 unknown", "554 5.5.1 no valid recipients")
				}
				c.WaitClose()
			})
			defer srv.Close()
			c := dialRaw(t, srv)
			res, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"x@y.test"}}, strings.NewReader("secret body\r\n"))
			if !errors.Is(err, smtpkit.ErrAllRecipientsRefused) {
				t.Fatalf("err = %v, want ErrAllRecipientsRefused", err)
			}
			var e *smtpkit.Error
			if !errors.As(err, &e) || e.Code != 550 || e.Phase != smtpkit.PhaseRcpt {
				t.Errorf("err = %#v, want the 550 of phase rcpt", err)
			}
			if res == nil || len(res.Refused()) != 1 {
				t.Errorf("result %+v", res)
			}
			c.Close()
			srv.Close()
			for _, l := range srv.Received() {
				if strings.Contains(l, "secret") {
					t.Errorf("the message data was sent: %q", srv.Received())
				}
			}
		})
	}
}

func TestSendRefusedBeforeAnythingIsSent(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "SIZE 100", "PIPELINING") {
			return
		}
		if _, err := c.Expect("NOOP"); err == nil {
			c.Send("250 2.0.0 ok")
		}
		c.WaitClose()
	})
	defer srv.Close()
	c := dialRaw(t, srv)
	tests := []struct {
		name string
		env  smtpkit.Envelope
		msg  string
		want error
	}{
		{"too large", smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.Repeat("x", 101), smtpkit.ErrMessageTooLarge},
		{"declared too large", smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}, Size: 5000}, "x", smtpkit.ErrMessageTooLarge},
		{"UTF-8 address", smtpkit.Envelope{From: "a@x.test", To: []string{"jürgen@y.test"}}, "x", smtpkit.ErrNotSupported},
		{"8BITMIME", smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}, Body: smtpkit.Body8BitMIME}, "x", smtpkit.ErrNotSupported},
		{"BINARYMIME", smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}, Body: smtpkit.BodyBinaryMIME}, "x", smtpkit.ErrNotSupported},
		{"DSN", smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}, DSN: &smtpkit.DSN{Return: "HDRS"}}, "x", smtpkit.ErrNotSupported},
		{"REQUIRETLS in plaintext", smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}, RequireTLS: true}, "x", smtpkit.ErrNotSupported},
		{"no recipient", smtpkit.Envelope{From: "a@x.test"}, "x", smtpkit.ErrInvalidArgument},
		{"CRLF in sender", smtpkit.Envelope{From: "a@x.test>\r\nRCPT TO:<evil@z>", To: []string{"b@y.test"}}, "x", smtpkit.ErrInvalidArgument},
		{"parameter injection", smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test> NOTIFY=NEVER"}}, "x", smtpkit.ErrInvalidArgument},
		{"NUL in recipient", smtpkit.Envelope{From: "a@x.test", To: []string{"b\x00@y.test"}}, "x", smtpkit.ErrInvalidArgument},
	}
	for _, tt := range tests {
		_, err := c.Send(testContext(t), &tt.env, strings.NewReader(tt.msg))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	// The next command on the wire is NOOP: nothing of the refused messages was sent.
	if err := c.Noop(testContext(t)); err != nil {
		t.Errorf("Noop after the refusals: %v", err)
	}
	srv.Close()
	if got := verbs(srv.Received()); !slices.Equal(got, []string{"EHLO", "NOOP"}) {
		t.Errorf("server received %q; want nothing between EHLO and NOOP", got)
	}
}

func TestSendParameters(t *testing.T) {
	got := make(chan []string, 1)
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "PIPELINING", "SMTPUTF8", "DSN", "8BITMIME", "SIZE 0") {
			return
		}
		var lines []string
		for range 4 {
			l, _ := c.ReadLine()
			lines = append(lines, l)
		}
		got <- lines
		c.WaitClose()
	})
	defer srv.Close()
	c := dialRaw(t, srv)
	go c.Send(testContext(t), &smtpkit.Envelope{
		From: "ünï@x.test",
		To:   []string{"b@y.test", "c+tag@y.test"},
		Size: 4321,
		Body: smtpkit.Body8BitMIME,
		DSN:  &smtpkit.DSN{Return: "hdrs", EnvelopeID: "id=1 2", Notify: []string{"failure", "success"}, OriginalRecipients: true},
	}, strings.NewReader("x"))
	want := []string{
		"MAIL FROM:<ünï@x.test> SIZE=4321 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+3D1+202",
		"RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@y.test",
		"RCPT TO:<c+tag@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+2Btag@y.test",
		"DATA",
	}
	if lines := <-got; !slices.Equal(lines, want) {
		t.Errorf("server read\n%q\nwant\n%q", lines, want)
	}
	c.Close()
}

// TestSendServerDropsMidData: the caller must learn the message was not accepted.
func TestSendServerDropsMidData(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		t.Run(fmt.Sprint("chunking=", chunking), func(t *testing.T) {
			srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
				ext := []string{"PIPELINING"}
				if chunking {
					ext = append(ext, "CHUNKING")
				}
				if !greetAndEHLO(c, ext...) {
					return
				}
				c.Expect("MAIL")
				c.Expect("RCPT")
				if !chunking {
					c.Expect("DATA")
					c.Send("250 ok", "250 ok", "354 go")
				}
				c.ReadLine() // some data, then hang up
			})
			defer srv.Close()
			c := dialRaw(t, srv)
			big := strings.Repeat("line of the message\r\n", 100000)
			res, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader(big))
			if err == nil {
				t.Fatalf("Send succeeded: %+v", res)
			}
			if res != nil && res.Reply.Code != 0 {
				t.Errorf("a final reply was recorded: %+v", res.Reply)
			}
			if err := c.Noop(testContext(t)); err == nil {
				t.Error("the connection is still usable after the server hung up")
			}
		})
	}
}

// failingReader fails after some bytes, as a message source may.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"[i%32]
	}
	r.n -= k
	return k, nil
}

// TestSendReaderFailureNeverDeliversATruncatedMessage: when the message
// cannot be read, the data must not be ended, so nothing is delivered.
func TestSendReaderFailureNeverDeliversATruncatedMessage(t *testing.T) {
	for _, kind := range []smtptest.Security{smtptest.Plain} {
		srv := smtptest.NewServer(kind)
		c, err := smtpkit.Dial(testContext(t), srv.Addr, srv.ClientOptions())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, io.MultiReader(strings.NewReader("Subject: x\r\n\r\n"), &failingReader{n: 1 << 20}))
		if err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Errorf("err = %v, want the reader's error", err)
		}
		c.Close()
		srv.Close()
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages delivered from a reader that failed", n)
		}
	}
}

func TestSendReusesTheConnectionAndResetsOnlyWhenNeeded(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	var transcript lineWriter
	opts := srv.ClientOptions()
	opts.Transcript = &transcript
	c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	for i := range 3 {
		if _, err := c.Send(testContext(t), env, bytes.NewReader([]byte("m\r\n"))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := len(srv.Messages()); n != 3 {
		t.Errorf("%d messages, want 3", n)
	}
	if strings.Contains(transcript.String(), "C: RSET") {
		t.Errorf("RSET sent between successful transactions:\n%s", transcript.String())
	}
	if srv.Connections() != 1 {
		t.Errorf("%d connections, want 1", srv.Connections())
	}
}

// TestSendChecksAddressesAsMessageDoes: an envelope address is held to the
// rules of package message, the one set every address is checked with;
// nothing is sent for one that breaks them.
func TestSendChecksAddressesAsMessageDoes(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, env := range []smtpkit.Envelope{
		{From: "a b@x.test", To: []string{"b@y.test"}},
		{From: "a@x.test", To: []string{"b@@y.test"}},
		{From: "a@x.test", To: []string{""}},
		{From: "a@x.test", To: []string{"b@y.test\r\nRCPT TO:<c@y.test>"}},
	} {
		_, err := c.Send(testContext(t), &env, strings.NewReader("x\r\n"))
		if !errors.Is(err, smtpkit.ErrInvalidArgument) || !errors.Is(err, message.ErrInvalidAddress) {
			t.Errorf("%+v: err = %v, want ErrInvalidArgument and message.ErrInvalidAddress", env, err)
		}
	}
	if _, err := c.Send(testContext(t), &smtpkit.Envelope{To: []string{"b@y.test"}}, strings.NewReader("x\r\n")); err != nil {
		t.Errorf("the null sender: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages delivered, want the null sender's only", n)
	}
}

// TestEnvelopeValidate: the checks no server changes, as Send and the
// outbox both make them before anything is sent or written.
func TestEnvelopeValidate(t *testing.T) {
	ok := smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
	for _, env := range []smtpkit.Envelope{
		{From: "a@x.test"},
		{From: "a@x.test", To: []string{"b@@y.test"}},
		{From: "a b@x.test", To: []string{"b@y.test"}},
		{From: "a@x.test", To: []string{"b@y.test"}, Body: "9BIT"},
		{From: "a@x.test", To: []string{"b@y.test"}, DSN: &smtpkit.DSN{Return: "ALL"}},
		{From: "a@x.test", To: []string{"b@y.test"}, DSN: &smtpkit.DSN{Notify: []string{"NEVER", "DELAY"}}},
	} {
		if err := env.Validate(); !errors.Is(err, smtpkit.ErrInvalidArgument) {
			t.Errorf("%+v: err = %v, want ErrInvalidArgument", env, err)
		}
	}
}
