package wire

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// loopConn serves the same bytes forever, so a benchmark measures parsing only.
type loopConn struct {
	net.Conn
	data []byte
	r    *bytes.Reader
}

func (c *loopConn) Read(p []byte) (int, error) {
	if c.r.Len() == 0 {
		c.r.Reset(c.data)
	}
	return c.r.Read(p)
}
func (c *loopConn) SetDeadline(time.Time) error { return nil }

func benchmarkReplies(b *testing.B, reply string, enhanced bool) {
	data := []byte(strings.Repeat(reply, 64))
	c := NewConn(&loopConn{data: data, r: bytes.NewReader(data)}, Config{})
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ReadReply(enhanced); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadReplySingle(b *testing.B) {
	benchmarkReplies(b, "250 2.1.5 Ok\r\n", true)
}

func BenchmarkReadReplyEHLO(b *testing.B) {
	benchmarkReplies(b, "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"+
		"250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n", false)
}

func BenchmarkWriteCommand(b *testing.B) {
	c := NewConn(&discardConn{}, Config{})
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteCommand("RCPT", "TO:<someone@example.com>", "NOTIFY=FAILURE"); err != nil {
			b.Fatal(err)
		}
		c.Flush()
	}
}

type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return io.Discard.Write(p) }
