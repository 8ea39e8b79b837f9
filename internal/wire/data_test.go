package wire

import (
	"bytes"
	"strings"
	"testing"
)

func TestDataWriter(t *testing.T) {
	tests := []struct{ name, in, data, bdat string }{
		{"empty", "", ".\r\n", ""},
		{"one line no newline", "hello", "hello\r\n.\r\n", "hello\r\n"},
		{"CRLF kept", "a\r\nb\r\n", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"bare LF", "a\nb\n", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"bare CR", "a\rb\r", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"CR CR LF", "a\r\r\nb", "a\r\n\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n"},
		{"dot lines", ".\r\n..x\r\n.", "..\r\n...x\r\n..\r\n.\r\n", ".\r\n..x\r\n.\r\n"},
		{"dot mid line", "a.b\r\n", "a.b\r\n.\r\n", "a.b\r\n"},
		// The smuggling shapes: each must stay inside the message.
		{"LF dot CRLF", "x\n.\r\nMAIL FROM:<evil>\r\n", "x\r\n..\r\nMAIL FROM:<evil>\r\n.\r\n", "x\r\n.\r\nMAIL FROM:<evil>\r\n"},
		{"CRLF dot LF", "x\r\n.\nRCPT", "x\r\n..\r\nRCPT\r\n.\r\n", "x\r\n.\r\nRCPT\r\n"},
		{"CR dot CR", "x\r.\rz", "x\r\n..\r\nz\r\n.\r\n", "x\r\n.\r\nz\r\n"},
		{"ends with CRLF dot CRLF", "body\r\n.\r\n", "body\r\n..\r\n.\r\n", "body\r\n.\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []int{0, 1, 2, 3} {
				for _, mode := range []struct {
					mk   func(*bytes.Buffer) *DataWriter
					want string
				}{{func(b *bytes.Buffer) *DataWriter { return NewDataWriter(b) }, tt.data},
					{func(b *bytes.Buffer) *DataWriter { return NewNormalizer(b) }, tt.bdat}} {
					var out bytes.Buffer
					d := mode.mk(&out)
					writeSplit(t, d, tt.in, split)
					if err := d.Close(); err != nil {
						t.Fatal(err)
					}
					if out.String() != mode.want {
						t.Errorf("split %d: %q -> %q, want %q", split, tt.in, out.String(), mode.want)
					}
					if d.Written() != int64(out.Len()) {
						t.Errorf("Written() = %d, wrote %d", d.Written(), out.Len())
					}
				}
			}
		})
	}
}

// writeSplit writes s whole (n == 0) or in pieces of n bytes, so state
// carried between writes is exercised.
func writeSplit(t *testing.T, d *DataWriter, s string, n int) {
	t.Helper()
	if n == 0 {
		n = len(s) + 1
	}
	for len(s) > 0 {
		k := min(n, len(s))
		if w, err := d.Write([]byte(s[:k])); err != nil || w != k {
			t.Fatalf("Write = %d, %v", w, err)
		}
		s = s[k:]
	}
}

// FuzzDataWriter checks, for any input and any way of splitting it, that the
// output has no bare CR or LF, no unstuffed dot line, one terminator at the
// very end, and that undoing the stuffing gives the normalised input.
func FuzzDataWriter(f *testing.F) {
	for _, s := range []string{"", "a", ".", "\r", "\n", "a\r\n.\r\nb", "x\n.\ny", "\r\r\n\n.", "..\r\n...", "MAIL\r\n.\rX"} {
		f.Add(s, uint8(1))
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, in string, split uint8) {
		var out bytes.Buffer
		d := NewDataWriter(&out)
		writeSplit(t, d, in, int(split))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if !strings.HasSuffix(got, "\r\n.\r\n") && got != ".\r\n" {
			t.Fatalf("output %q does not end with CRLF.CRLF", got)
		}
		body := strings.TrimSuffix(got, ".\r\n")
		lines := strings.Split(body, "\r\n")
		if lines[len(lines)-1] != "" {
			t.Fatalf("body %q does not end with CRLF", body)
		}
		lines = lines[:len(lines)-1]
		for i, l := range lines {
			if strings.ContainsAny(l, "\r\n") {
				t.Fatalf("line %d %q holds a bare CR or LF", i, l)
			}
			if strings.HasPrefix(l, ".") && !strings.HasPrefix(l, "..") {
				t.Fatalf("line %d %q starts with an unstuffed dot", i, l)
			}
			lines[i] = strings.TrimPrefix(l, ".")
		}
		want := normalise(in)
		if unstuffed := strings.Join(lines, "\r\n") + "\r\n"; len(lines) > 0 && unstuffed != want || len(lines) == 0 && want != "" {
			t.Fatalf("server would reassemble %q, want %q", unstuffed, want)
		}
	})
}

// normalise is the slow, obvious reference: every line ending becomes CRLF,
// and a non-empty message ends with one.
func normalise(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return strings.ReplaceAll(s, "\n", "\r\n")
}
