package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestChunkingFilter(t *testing.T) {
	ehlo := "250-sink.localhost Hello localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 SIZE 100\r\n"
	tests := []struct{ in, want string }{
		{"220 sink.localhost ESMTP\r\n" + ehlo + "250 2.0.0 OK\r\n",
			"220 sink.localhost ESMTP\r\n250-sink.localhost Hello localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100\r\n250 2.0.0 OK\r\n"},
		// CHUNKING last: the line before it becomes the last.
		{"250-sink.localhost Hello localhost\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
			"250-sink.localhost Hello localhost\r\n250 PIPELINING\r\n"},
		// A one-line reply is never removed.
		{"250 CHUNKING\r\n", "250 CHUNKING\r\n"},
	}
	for _, tt := range tests {
		// Every way of cutting the stream in two gives the same output.
		for cut := 0; cut <= len(tt.in); cut++ {
			f := &chunkingFilter{}
			got := string(f.process([]byte(tt.in[:cut]))) + string(f.process([]byte(tt.in[cut:]))) + string(f.flush())
			if got != tt.want {
				t.Fatalf("cut at %d:\ngot  %q\nwant %q", cut, got, tt.want)
			}
		}
	}
}

// startEcho starts a TCP server that echoes each line back.
func startEcho(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRelayIsAPipeWithLatency(t *testing.T) {
	const rtt = 20 * time.Millisecond
	r, err := newRelay(startEcho(t), rtt, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)

	// One exchange takes one round-trip time.
	t0 := time.Now()
	io.WriteString(c, "ping\n")
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	// Only the lower bounds are checked: a loaded machine may add any delay.
	if d := time.Since(t0); d < rtt {
		t.Errorf("one exchange took %v, want at least %v", d, rtt)
	}

	// Thirty lines written 2 ms apart, for three round-trip times, come
	// back one round-trip time after each was sent: the delays overlap
	// rather than add up.
	st0 := r.Stats()
	t0 = time.Now()
	go func() {
		for range 30 {
			io.WriteString(c, "line\n")
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for range 30 {
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d < rtt+58*time.Millisecond {
		t.Errorf("thirty pipelined lines took %v, want at least %v", d, rtt+58*time.Millisecond)
	}
	// The lines were not waiting for the echoes: fewer round trips than
	// lines are counted (about one per 20 ms on an idle machine).
	st := r.Stats().sub(st0)
	if st.Rounds < 2 || st.Rounds >= 30 {
		t.Errorf("counted %d round trips, want 2 to 29", st.Rounds)
	}
	t.Logf("round trips %d, direction turns %d", st.Rounds, st.Turns)
}

func clientByKey(t testing.TB, key string) client {
	for _, c := range clients {
		if c.key == key {
			return c
		}
	}
	t.Fatalf("no client %q", key)
	return client{}
}

// The round trips counted for clients whose behaviour is known.
func TestRoundTripsPerMessage(t *testing.T) {
	s, err := startSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := smallMessage(messageSize)
	for _, tt := range []struct {
		key  string
		want float64
	}{
		{"smtpkit", 1},            // MAIL+RCPT+BDAT LAST in one write
		{"smtpkit-pipelining", 2}, // MAIL+RCPT+DATA, then the data
		{"netsmtp", 4},            // MAIL, RCPT, DATA, data
		{"gosmtp", 4},
		{"gomail", 7},      // NOOP, MAIL, RCPT, DATA, data, NOOP, RSET
		{"gomail-lean", 4}, // MAIL, RCPT, DATA, data
	} {
		t.Run(tt.key, func(t *testing.T) {
			r, err := runCell(context.Background(), s, clientByKey(t, tt.key), 0, 20, msg)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.roundsPerMsg(); got != tt.want {
				t.Errorf("%.2f round trips per message, want %.2f", got, tt.want)
			}
		})
	}
	t.Run("smtpkit-batch", func(t *testing.T) {
		r, err := runCell(context.Background(), s, clientByKey(t, "smtpkit-batch"), 0, 100, msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.roundsPerMsg(); got >= 1 {
			t.Errorf("%.2f round trips per message, want fewer than one", got)
		}
	})
}

func TestBigMessageReader(t *testing.T) {
	r, total := newBigMessage(100_000)
	b, err := io.ReadAll(iotestOneByte{r})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != total || total > 100_000 || total < 100_000-int64(len(bodyLine)) {
		t.Fatalf("read %d bytes, said %d", len(b), total)
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if len(l) > lineWidth {
			t.Fatalf("line %d is %d long", i, len(l))
		}
	}
}

// iotestOneByte reads one byte at a time.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// BenchmarkSend measures each client at 0 RTT through the relay:
// go test -bench . -benchtime 2000x
func BenchmarkSend(b *testing.B) {
	s, err := startSink()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msg := smallMessage(messageSize)
	for _, c := range clients {
		b.Run(c.key, func(b *testing.B) {
			r, err := newRelay(s.Addr, 0, c.pipeliningOnly)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			ctx := context.Background()
			sess, err := c.dial(ctx, r.Addr(), msg)
			if err != nil {
				b.Fatal(err)
			}
			defer sess.close(ctx)
			st0 := r.Stats()
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			if err := sess.send(ctx, b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(r.Stats().sub(st0).Rounds)/float64(b.N), "roundtrips/msg")
		})
	}
}
