package smtpkit

import (
	"strings"
	"testing"
)

// FuzzParseCapabilities: any EHLO reply parses without panic, and what it
// reports is consistent with the lines it was given.
func FuzzParseCapabilities(f *testing.F) {
	for _, s := range []string{"mx\nPIPELINING\nSIZE 100\nAUTH PLAIN LOGIN", "mx\nAUTH=LOGIN\nauth cram-md5", "mx\nSIZE -5\nSIZE", "", "mx\n \n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		caps := parseCapabilities(&Reply{Code: 250, Lines: strings.Split(in, "\n")})
		if n, ok := caps.Size(); ok && n < 0 {
			t.Fatalf("negative SIZE %d", n)
		}
		for _, m := range caps.AuthMechanisms() {
			if m == "" || m != strings.ToUpper(m) || strings.ContainsAny(m, " \t") {
				t.Fatalf("mechanism %q", m)
			}
		}
		if len(caps.Lines()) > len(strings.Split(in, "\n")) {
			t.Fatal("more lines out than in")
		}
	})
}
