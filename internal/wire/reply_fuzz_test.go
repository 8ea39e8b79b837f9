package wire

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// FuzzReadReply feeds arbitrary bytes to the reply reader: it must return
// a reply or an error, never panic, never a reply that breaks its own
// limits, and every reply's lines must be free of CR and LF.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 ok\r\n", "250-a\r\n250 b\r\n", "550 5.1.1 x\r\n", "250\r\n", "25", "250-\r\n250 \r\n",
		"451-4.3.0 a\n451 4.3.0 b\n", "250-a\r\n550 b\r\n", "999 x\r\n", "2500 x\r\n", "\r\n", "250 2.0\r\n",
	} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, enhanced bool) {
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			server.Write([]byte(in))
			server.Close()
		}()
		c := NewConn(client, Config{MaxLineLength: 128, MaxLines: 8})
		r, err := c.ReadReply(enhanced)
		if err != nil {
			return
		}
		if r.Code < 200 || r.Code > 599 || len(r.Lines) == 0 || len(r.Lines) > 8 {
			t.Fatalf("reply %+v from %q breaks the limits", r, in)
		}
		for _, l := range r.Lines {
			if strings.ContainsAny(l, "\r\n") {
				t.Fatalf("line %q holds CR or LF", l)
			}
		}
		if r.Enhanced != [3]int{} && r.Enhanced[0] != r.Code/100 {
			t.Fatalf("enhanced code %v disagrees with %d", r.Enhanced, r.Code)
		}
	})
}

// FuzzWriteCommand: any argument either goes out as exactly one line or is
// refused with nothing written.
func FuzzWriteCommand(f *testing.F) {
	for _, s := range []string{"FROM:<a@b>", "x\r\ny", "\x00", "\n", "ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		c, written := pipe(t, Config{})
		err := c.WriteCommand("MAIL", arg)
		c.Flush()
		out := written()
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) || out != "" {
				t.Fatalf("refused %q with %v but wrote %q", arg, err, out)
			}
			return
		}
		if strings.Count(out, "\n") != 1 || strings.Count(out, "\r") != 1 || !strings.HasSuffix(out, "\r\n") || strings.Contains(out, "\x00") {
			t.Fatalf("%q went out as %q", arg, out)
		}
	})
}
