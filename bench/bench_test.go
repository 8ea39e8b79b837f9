package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

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
	ss, err := startSinks()
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
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
			r, err := runCell(context.Background(), ss, clientByKey(t, tt.key), 0, false, 20, msg)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.roundsPerMsg(); got != tt.want {
				t.Errorf("%.2f round trips per message, want %.2f", got, tt.want)
			}
		})
	}
	t.Run("smtpkit-batch", func(t *testing.T) {
		r, err := runCell(context.Background(), ss, clientByKey(t, "smtpkit-batch"), 0, false, 100, msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.roundsPerMsg(); got >= 1 {
			t.Errorf("%.2f round trips per message, want fewer than one", got)
		}
	})
	// 40 messages need 160 replies, more than the window of 128: the
	// first window goes at once, and what follows it, whole transactions
	// waiting in the buffer when the window fills included, must go as
	// soon as the first replies come back: two round trips, not three.
	t.Run("smtpkit-batch-beyond-a-window", func(t *testing.T) {
		r, err := runCell(context.Background(), ss, clientByKey(t, "smtpkit-batch"), 5*time.Millisecond, false, 40, msg)
		if err != nil {
			t.Fatal(err)
		}
		if r.stats.Rounds > 2 {
			t.Errorf("%d round trips for 40 messages, want 2", r.stats.Rounds)
		}
	})
	// Without CHUNKING a batch waits once per message, for the 354 that
	// lets its data go; the data, its final dot and the next envelope
	// share a round trip.
	t.Run("smtpkit-batch-pipelining", func(t *testing.T) {
		r, err := runCell(context.Background(), ss, clientByKey(t, "smtpkit-batch-pipelining"), 0, false, 100, msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.roundsPerMsg(); got > 1.1 {
			t.Errorf("%.2f round trips per message, want at most 1.1", got)
		}
		t.Logf("%.2f round trips, %.2f writes, %.2f reads per message", r.roundsPerMsg(), r.writesPerMsg(), r.readsPerMsg())
	})
}

// The write calls counted on the client's side of a direct connection.
func TestWritesPerMessage(t *testing.T) {
	ss, err := startSinks()
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	msg := smallMessage(messageSize)
	ctx := context.Background()
	// net/smtp flushes each command and the data with its dot: four
	// writes, whatever the timing; this checks the counting itself.
	t.Run("netsmtp", func(t *testing.T) {
		r, err := runCell(ctx, ss, clientByKey(t, "netsmtp"), 0, true, 20, msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.writesPerMsg(); got != 4 {
			t.Errorf("%.2f writes per message, want 4", got)
		}
		if got := r.io.WriteBytes; got < int64(20*len(msg)) {
			t.Errorf("%d bytes written for 20 messages of %d bytes", got, len(msg))
		}
	})
	// A batch writes whole transactions, several at a time when the
	// server is slower than the client: fewer writes than messages, where
	// a write per command would be four per message. How many share a
	// write depends on timing (0.13 to 0.6 per message seen at 0 RTT).
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("smtpkit-batch/direct=%v", direct), func(t *testing.T) {
			r, err := runCell(ctx, ss, clientByKey(t, "smtpkit-batch"), 0, direct, 100, msg)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.writesPerMsg(); got > 1 {
				t.Errorf("%.2f writes per message, want at most 1", got)
			}
			t.Logf("%.2f writes, %.2f reads per message", r.writesPerMsg(), r.readsPerMsg())
		})
	}
	// A direct connection to the sink that strips CHUNKING gets the DATA
	// path, as through the relay.
	t.Run("smtpkit-pipelining/direct", func(t *testing.T) {
		r, err := runCell(ctx, ss, clientByKey(t, "smtpkit-pipelining"), 0, true, 20, msg)
		if err != nil {
			t.Fatal(err)
		}
		// MAIL+RCPT+DATA in one write, then the data: at least two.
		if got := r.writesPerMsg(); got < 2 {
			t.Errorf("%.2f writes per message, want at least 2 (no BDAT)", got)
		}
	})
}

func TestStrippingSinkHidesChunking(t *testing.T) {
	s, err := startSink(sinkConfig{stripChunking: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	readReply := func() []string {
		var lines []string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
			if len(l) > 3 && l[3] == ' ' {
				return lines
			}
		}
	}
	readReply()
	io.WriteString(c, "EHLO localhost\r\n")
	ehlo := readReply()
	var sawPipelining bool
	for _, l := range ehlo {
		if isChunkingLine([]byte(l)) {
			t.Errorf("EHLO reply has %q", l)
		}
		sawPipelining = sawPipelining || strings.Contains(l, "PIPELINING")
	}
	if !sawPipelining {
		t.Errorf("EHLO reply has no PIPELINING: %q", ehlo)
	}
	io.WriteString(c, "QUIT\r\n")
	readReply()
}

// The resumption rows resume every measured connection, as smtpkit's
// TLSDone events say, and the rows that turn it off resume none.
func TestReconnectResumes(t *testing.T) {
	cert, err := newSinkCert()
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := cert.serverConfig()
	if err != nil {
		t.Fatal(err)
	}
	s, err := startSink(sinkConfig{tls: scfg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 5
	for _, tt := range []struct {
		key     string
		resumed int
		version uint16
	}{
		{"smtpkit", n, tls.VersionTLS13},
		{"smtpkit-noresume", 0, tls.VersionTLS13},
		{"smtpkit-tls12", n, tls.VersionTLS12},
		{"smtpkit-tls12-noresume", 0, tls.VersionTLS12},
		{"netsmtp", 0, tls.VersionTLS13},
		{"netsmtp-cache", n, tls.VersionTLS13},
		{"gosmtp", 0, tls.VersionTLS13},
		{"gomail", 0, tls.VersionTLS13},
	} {
		t.Run(tt.key, func(t *testing.T) {
			i := slices.IndexFunc(reconnectClients, func(c reconnectClient) bool { return c.key == tt.key })
			if i < 0 {
				t.Fatalf("no reconnect client %q", tt.key)
			}
			r, err := runReconnect(context.Background(), reconnectClients[i], s.Addr, cert, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.resumed != tt.resumed {
				t.Errorf("%d of %d connections resumed, want %d", r.resumed, n, tt.resumed)
			}
			if r.versions[tt.version] != n {
				t.Errorf("versions %v, want %s for all %d", r.versions, tls.VersionName(tt.version), n)
			}
			// Every connection wrote something and read something.
			if r.io.Writes < n || r.io.Reads < n {
				t.Errorf("%d writes and %d reads for %d connections", r.io.Writes, r.io.Reads, n)
			}
		})
	}
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

// BenchmarkSend measures each client at 0 RTT through the relay and
// straight to the sink: go test -bench . -benchtime 2000x
func BenchmarkSend(b *testing.B) {
	ss, err := startSinks()
	if err != nil {
		b.Fatal(err)
	}
	defer ss.Close()
	msg := smallMessage(messageSize)
	for _, direct := range []bool{false, true} {
		for _, c := range clients {
			name := c.key + "/relay"
			if direct {
				name = c.key + "/direct"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(msg)))
				r, err := runCell(context.Background(), ss, c, 0, direct, b.N, msg)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.elapsed.Seconds()*1e9/float64(b.N), "ns/op")
				if !direct {
					b.ReportMetric(r.roundsPerMsg(), "roundtrips/msg")
				}
				b.ReportMetric(r.writesPerMsg(), "writes/msg")
				b.ReportMetric(r.readsPerMsg(), "reads/msg")
			})
		}
	}
}

// BenchmarkReconnect measures each reconnect row against a TLS sink in
// this process: go test -run NONE -bench Reconnect -benchtime 200x
func BenchmarkReconnect(b *testing.B) {
	cert, err := newSinkCert()
	if err != nil {
		b.Fatal(err)
	}
	scfg, err := cert.serverConfig()
	if err != nil {
		b.Fatal(err)
	}
	s, err := startSink(sinkConfig{tls: scfg})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, rc := range reconnectClients {
		b.Run(rc.key, func(b *testing.B) {
			r, err := runReconnect(context.Background(), rc, s.Addr, cert, b.N, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.elapsed.Seconds()*1e9/float64(b.N), "ns/op")
			b.ReportMetric(float64(r.resumed)/float64(b.N), "resumed/conn")
			b.ReportMetric(float64(r.io.Writes)/float64(b.N), "writes/conn")
			b.ReportMetric(float64(r.io.Reads)/float64(b.N), "reads/conn")
		})
	}
}
