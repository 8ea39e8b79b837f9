package interop_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/smtpkit/smtpkit"
)

// BenchmarkSend sends 2 KiB messages to Postfix over one plaintext
// connection, with BDAT (2525: PIPELINING and CHUNKING) and with DATA
// (2529: PIPELINING only), to an address Postfix
// accepts and throws away: one Send at a time, in batches of two (ns/op is
// per batch), or in one SendBatch. Besides the time it reports the
// client's write and read calls per message: Postfix writes the replies
// to a pipelined group in one go, so a Send costs one write and one read.
//
// Postfix leaves Nagle's algorithm on: when it answers a batch in two
// writes, the second waits for the ACK of the first, which a client with
// nothing more to send would delay by 40 ms. The batch of two shows that
// wait when smtpkit no longer asks for the ACK at once.
//
//	go test -run '^$' -bench Send -benchtime 2000x ./interop/
func BenchmarkSend(b *testing.B) {
	p, err := loadPeers()
	if err != nil {
		b.Skipf("interop peers not running: %v", err)
	}
	msg := benchMessage(2 << 10)
	env := &smtpkit.Envelope{From: "bench@example.com", To: []string{"sink@discard.peers.test"}}
	for _, port := range []struct {
		name, key string
		chunking  bool
	}{{"BDAT", keyPlain, true}, {"DATA", keyNoChunking, false}} {
		addr := p.env[port.key]
		if addr == "" {
			b.Skipf("interop peers not running: no %s", port.key)
		}
		for _, batch := range []int{0, 2, -1} {
			name := port.name + "/Send"
			switch batch {
			case 2:
				name = port.name + "/SendBatch-of-2"
			case -1:
				name = port.name + "/SendBatch"
			}
			b.Run(name, func(b *testing.B) {
				d := &countingDialer{}
				c, err := smtpkit.Dial(b.Context(), addr, &smtpkit.Options{Security: smtpkit.SecurityNone, Dialer: d})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Quit(context.Background())
				if c.Capabilities().Chunking() != port.chunking || !c.Capabilities().Pipelining() {
					b.Fatalf("%s: want PIPELINING, CHUNKING %v", addr, port.chunking)
				}
				sendBatch := func(n int) {
					mails := make([]smtpkit.Mail, n)
					for i := range mails {
						mails[i] = smtpkit.Mail{Envelope: *env, Message: bytes.NewReader(msg)}
					}
					for _, r := range c.SendBatch(b.Context(), mails) {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
				}
				writes0, reads0 := d.writes.Load(), d.reads.Load()
				msgs := b.N
				b.ResetTimer()
				switch batch {
				case 0:
					for range b.N {
						if _, err := c.Send(b.Context(), env, bytes.NewReader(msg)); err != nil {
							b.Fatal(err)
						}
					}
				case -1:
					sendBatch(b.N)
				default:
					msgs = b.N * batch
					for range b.N {
						sendBatch(batch)
					}
				}
				b.StopTimer()
				b.SetBytes(int64(len(msg) * msgs / b.N))
				n := float64(msgs)
				b.ReportMetric(float64(d.writes.Load()-writes0)/n, "writes/msg")
				b.ReportMetric(float64(d.reads.Load()-reads0)/n, "reads/msg")
			})
		}
	}
}

// benchMessage returns a text message of about size bytes in 76-column lines.
func benchMessage(size int) []byte {
	var sb strings.Builder
	sb.WriteString("From: bench@example.com\r\nTo: sink@discard.peers.test\r\nSubject: bench\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for sb.Len() < size {
		sb.WriteString(line)
	}
	return []byte(sb.String())
}

// countingDialer counts the Write and Read calls made on the connections it opens.
type countingDialer struct {
	d             net.Dialer
	writes, reads atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, d: d}, nil
}

type countingConn struct {
	net.Conn
	d *countingDialer
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.d.writes.Add(1)
	return c.Conn.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.d.reads.Add(1)
	return c.Conn.Read(p)
}

// NetConn returns the connection underneath, so the library can reach the socket.
func (c *countingConn) NetConn() net.Conn { return c.Conn }
