package smtpkit_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/smtpkit/smtpkit"
)

// cannedServer is the least a server can do: it reads commands and BDAT
// chunks and answers each with a fixed reply, allocating nothing per
// message, so that a benchmark's allocations are the client's.
func cannedServer(b *testing.B, chunking bool) (addr string) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	b.Cleanup(func() { ln.Close(); <-done })
	ehlo := "250-canned\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
	if chunking {
		ehlo = "250-canned\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n"
	}
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r, w := bufio.NewReader(nc), bufio.NewWriter(nc)
		w.WriteString("220 canned ESMTP\r\n")
		w.Flush()
		inData := false
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			switch {
			case inData:
				if bytes.Equal(line, []byte(".\r\n")) {
					inData = false
					w.WriteString("250 2.0.0 queued\r\n")
				}
			case hasVerb(line, "EHLO"):
				w.WriteString(ehlo)
			case hasVerb(line, "DATA"):
				inData = true
				w.WriteString("354 go ahead\r\n")
			case hasVerb(line, "BDAT"):
				f := bytes.Fields(line)
				n, _ := strconv.Atoi(string(f[1]))
				if _, err := r.Discard(n); err != nil {
					return
				}
				w.WriteString("250 2.0.0 queued\r\n")
			case hasVerb(line, "QUIT"):
				w.WriteString("221 bye\r\n")
				w.Flush()
				return
			default:
				w.WriteString("250 2.0.0 ok\r\n")
			}
			if r.Buffered() == 0 {
				if err := w.Flush(); err != nil {
					return
				}
			}
		}
	}()
	return ln.Addr().String()
}

func hasVerb(line []byte, verb string) bool {
	return len(line) >= len(verb) && string(line[:len(verb)]) == verb
}

// BenchmarkSend measures Send of a 2 KiB message on one connection to a
// server that answers at once and allocates nothing: the client's own cost,
// allocations included, with CHUNKING (BDAT) and without (DATA).
//
//	go test -run '^$' -bench Send -benchmem .
func BenchmarkSend(b *testing.B) {
	msg := bytes.Repeat([]byte("0123456789 abcdefghijklmnopqrstuvwxyz 0123456789 abcdefghijklmnopqrstuvw\r\n"), 28)
	env := &smtpkit.Envelope{From: "a@example.com", To: []string{"b@example.org"}}
	for _, chunking := range []bool{true, false} {
		name := "BDAT"
		if !chunking {
			name = "DATA"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			c, err := smtpkit.Dial(ctx, cannedServer(b, chunking), &smtpkit.Options{Security: smtpkit.SecurityNone})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Quit(ctx)
			r := bytes.NewReader(msg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(msg)
				if _, err := c.Send(ctx, env, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
