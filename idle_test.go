package smtpkit_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// TestSendAfterIdleLongerThanTheLimits: a connection left idle for longer
// than every time limit still sends a large message: each write is bounded
// from when it starts, not by a deadline left over from the last reply.
func TestSendAfterIdleLongerThanTheLimits(t *testing.T) {
	for _, kind := range []smtptest.Security{smtptest.Plain, smtptest.StartTLS} {
		srv := smtptest.NewServer(kind)
		opts := srv.ClientOptions()
		opts.CommandTimeout = 100 * time.Millisecond
		opts.DataTimeout = 100 * time.Millisecond
		c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Noop(testContext(t)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)                            // idle past every limit
		big := strings.Repeat("a line of a large message\r\n", 40000) // ~1 MB: written before any reply is awaited
		if _, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader(big)); err != nil {
			t.Errorf("%s: Send after idling: %v", kind, err)
		}
		c.Close()
		srv.Close()
	}
}

// TestLongDATAOutlastsDataTimeout: a message that takes longer to send than
// DataTimeout, to a server that reads it slowly but steadily, gets through:
// the limit applies to each write and to the final reply, not to the whole.
func TestLongDATAOutlastsDataTimeout(t *testing.T) {
	const lines = 200000 // ~6 MB, far more than the socket buffers hold
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		// Small socket buffers on both ends (below too), so the client's
		// writes wait on the server's pace instead of filling megabytes of
		// kernel buffers, and the server has little left to read when the
		// last write is done.
		c.Conn().(interface{ NetConn() net.Conn }).NetConn().(*net.TCPConn).SetReadBuffer(256 << 10)
		if !greetAndEHLO(c, "PIPELINING") {
			return
		}
		c.Expect("MAIL")
		c.Expect("RCPT")
		c.Expect("DATA")
		c.Send("250 ok", "250 ok", "354 go ahead")
		for n := 0; ; n++ {
			l, err := c.ReadLine()
			if err != nil {
				return
			}
			if l == "." {
				break
			}
			if n%12500 == 0 {
				time.Sleep(300 * time.Millisecond) // 16 pauses, 4.8 s: slow, but never stalled for DataTimeout
			}
		}
		c.Send("250 2.0.0 queued")
		c.WaitClose()
	})
	defer srv.Close()
	smallBuffers := dialFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err == nil {
			nc.(*net.TCPConn).SetWriteBuffer(256 << 10)
		}
		return nc, err
	})
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security: smtpkit.SecurityNone, DataTimeout: 2 * time.Second, Dialer: smallBuffers})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := strings.Repeat("0123456789 abcdefghij 0123456789\r\n"[:28]+"\r\n", lines)
	res, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader(msg))
	if err != nil || res.Reply.Code != 250 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
}
