package smtpkit_test

import (
	"crypto/tls"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

// The exported parsers are the one spelling of each setting (config and
// the command line call them); none of them existed at dcaafbe, where
// each caller kept its own table.

func TestParseTLSVersion(t *testing.T) {
	ok := map[string]uint16{
		"1.2": tls.VersionTLS12, "TLS1.2": tls.VersionTLS12, "tlsv1.2": tls.VersionTLS12, "TLSv1.2": tls.VersionTLS12,
		"TLS 1.3": tls.VersionTLS13, " 1.3 ": tls.VersionTLS13, "tls_1_3": tls.VersionTLS13, "13": tls.VersionTLS13,
		"1.0": tls.VersionTLS10, "TLS1": tls.VersionTLS10, "1.1": tls.VersionTLS11, "tls-1.1": tls.VersionTLS11,
		"ssl3": smtpkit.VersionSSL30, "SSLv3": smtpkit.VersionSSL30, "3.0": smtpkit.VersionSSL30,
	}
	for in, want := range ok {
		got, err := smtpkit.ParseTLSVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseTLSVersion(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, in := range []string{"1.4", "", "tls", "2.0", "TLS 1.2.1", "ssl2", "1,2"} {
		if v, err := smtpkit.ParseTLSVersion(in); err == nil {
			t.Errorf("ParseTLSVersion(%q) = %#x, want an error", in, v)
		} else if !strings.Contains(err.Error(), "want 1.0, 1.1, 1.2, 1.3 or ssl3") {
			t.Errorf("ParseTLSVersion(%q): %v; want it to say what to write", in, err)
		}
	}
}

func TestParseTLSVersions(t *testing.T) {
	tests := []struct {
		in   string
		want []uint16
	}{
		{"1.2,1.3", []uint16{tls.VersionTLS12, tls.VersionTLS13}},
		{"TLS 1.2, TLS 1.3", []uint16{tls.VersionTLS12, tls.VersionTLS13}},
		{"1.3,1.2,TLSv1.3", []uint16{tls.VersionTLS13, tls.VersionTLS12}}, // order kept, duplicates dropped
		{"ssl3, 1.0,", []uint16{smtpkit.VersionSSL30, tls.VersionTLS10}},
		{"", nil},
	}
	for _, tt := range tests {
		got, err := smtpkit.ParseTLSVersions(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseTLSVersions(%q) = %#x, %v; want %#x", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"1.2,1.4", "1.2;1.3", "bogus"} {
		if got, err := smtpkit.ParseTLSVersions(in); err == nil {
			t.Errorf("ParseTLSVersions(%q) = %#x, want an error", in, got)
		}
	}
	for _, v := range []uint16{smtpkit.VersionSSL30, tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		if back, err := smtpkit.ParseTLSVersion(smtpkit.TLSVersionName(v)); err != nil || back != v {
			t.Errorf("TLSVersionName(%#x) = %q parses back as %#x, %v", v, smtpkit.TLSVersionName(v), back, err)
		}
	}
}

func TestParseLocalAddr(t *testing.T) {
	ok := []struct {
		in   string
		want netip.AddrPort
	}{
		{"[::1]", netip.MustParseAddrPort("[::1]:0")},
		{"::1", netip.MustParseAddrPort("[::1]:0")},
		{"[::1]:0", netip.MustParseAddrPort("[::1]:0")},
		{"127.0.0.1:25", netip.MustParseAddrPort("127.0.0.1:25")},
		{"192.0.2.10", netip.MustParseAddrPort("192.0.2.10:0")},
		{" 2001:db8::10 ", netip.MustParseAddrPort("[2001:db8::10]:0")},
		{"[2001:db8::10]:2500", netip.MustParseAddrPort("[2001:db8::10]:2500")},
		{"::ffff:192.0.2.1", netip.MustParseAddrPort("192.0.2.1:0")}, // a mapped IPv4 is IPv4
		{"", netip.AddrPort{}},
	}
	for _, tt := range ok {
		got, err := smtpkit.ParseLocalAddr(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseLocalAddr(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"localhost", "eth0", "1.2.3.4:99999", "mail.example.com:25", "127.0.0.1:",
		"[127.0.0.1]:x", "fe80::1%eth0", "[fe80::1%eth0]:25", "[fe80::1%eth0]"} {
		got, err := smtpkit.ParseLocalAddr(in)
		if err == nil {
			t.Errorf("ParseLocalAddr(%q) = %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), "host names are not accepted") {
			t.Errorf("ParseLocalAddr(%q): %v; want it to say what to write", in, err)
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	const hexDigits = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	want, err := smtpkit.ParseFingerprint(hexDigits)
	if err != nil {
		t.Fatal(err)
	}
	if want[0] != 0x01 || want[31] != 0xef {
		t.Errorf("ParseFingerprint(%q) = %x", hexDigits, want)
	}
	var colons []string
	for i := 0; i < len(hexDigits); i += 2 {
		colons = append(colons, strings.ToUpper(hexDigits[i:i+2]))
	}
	for _, in := range []string{strings.ToUpper(hexDigits), strings.Join(colons, ":"), " " + strings.ToLower(strings.Join(colons, ":")) + " "} {
		if got, err := smtpkit.ParseFingerprint(in); err != nil || got != want {
			t.Errorf("ParseFingerprint(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{strings.Join(colons[:20], ":"), "SHA-1"},
		{hexDigits[:40], "SHA-1"},
		{hexDigits[:32], "MD5"},
	} {
		_, err := smtpkit.ParseFingerprint(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "openssl x509 -noout -fingerprint -sha256") {
			t.Errorf("ParseFingerprint(%q) = %v; want a refusal naming %s and how to get a SHA-256 one", tt.in, err, tt.want)
		}
	}
	for _, in := range []string{"", "zz", hexDigits[:63], hexDigits[:62], hexDigits + "00", "sha256:" + hexDigits} {
		if got, err := smtpkit.ParseFingerprint(in); err == nil {
			t.Errorf("ParseFingerprint(%q) = %x, want an error", in, got)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "30": 30 * time.Second, "1m30s": 90 * time.Second,
		" 2m ": 2 * time.Minute, "0": 0, "250ms": 250 * time.Millisecond,
	} {
		if got, err := smtpkit.ParseTimeout(in); err != nil || got != want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1s", "30 sec", "-5", "1.5", "soon"} {
		if got, err := smtpkit.ParseTimeout(in); err == nil {
			t.Errorf("ParseTimeout(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseMechanisms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"plain login", []string{"PLAIN", "LOGIN"}},
		{"PLAIN,plain , LOGIN", []string{"PLAIN", "LOGIN"}},
		{"scram-sha-256\txoauth2", []string{"SCRAM-SHA-256", "XOAUTH2"}},
		{"", nil},
	}
	for _, tt := range tests {
		got, err := smtpkit.ParseMechanisms(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseMechanisms(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := smtpkit.ParseMechanisms("PLAIN,X-BOGUS"); err == nil || !strings.Contains(err.Error(), "X-BOGUS") {
		t.Errorf("ParseMechanisms with an unknown name: %v, want an error naming it", err)
	}
	if got, err := smtpkit.CheckMechanisms([]string{" cram-md5 ", "CRAM-MD5"}); err != nil || !slices.Equal(got, []string{"CRAM-MD5"}) {
		t.Errorf("CheckMechanisms = %q, %v", got, err)
	}
}

// FuzzParseLocalAddr: any input parses without panic, and an address
// accepted reads back the same in its usual forms: IP:port, and the bare IP
// when the port is zero.
func FuzzParseLocalAddr(f *testing.F) {
	for _, s := range []string{"[::1]", "::1", "127.0.0.1:25", "[::1]:0", "localhost", "1.2.3.4:99999",
		"::ffff:192.0.2.1", "[fe80::1%eth0]:25", "[fe80::1%eth0]:0", "fe80::1%eth0", "[::1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ap, err := smtpkit.ParseLocalAddr(in)
		if err != nil || !ap.IsValid() {
			return
		}
		forms := []string{ap.String()}
		if ap.Port() == 0 {
			forms = append(forms, ap.Addr().String())
		}
		for _, s := range forms {
			back, err := smtpkit.ParseLocalAddr(s)
			if err != nil || back != ap {
				t.Fatalf("ParseLocalAddr(%q) = %v, but %q reads back as %v, %v", in, ap, s, back, err)
			}
		}
	})
}

// FuzzParseTLSVersions: any list parses without panic, and a list accepted
// reads back the same from the names TLSVersionName gives.
func FuzzParseTLSVersions(f *testing.F) {
	for _, s := range []string{"1.2,1.3", "TLS 1.2, TLS 1.3", "ssl3", "3.0,tlsv1.1", "1.4", "", ",,", "tls_1_0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		vs, err := smtpkit.ParseTLSVersions(in)
		if err != nil {
			return
		}
		names := make([]string, len(vs))
		for i, v := range vs {
			names[i] = smtpkit.TLSVersionName(v)
			if one, err := smtpkit.ParseTLSVersion(names[i]); err != nil || one != v {
				t.Fatalf("TLSVersionName(%#x) = %q reads back as %#x, %v", v, names[i], one, err)
			}
		}
		back, err := smtpkit.ParseTLSVersions(strings.Join(names, ","))
		if err != nil || !slices.Equal(back, vs) {
			t.Fatalf("ParseTLSVersions(%q) = %#x, but its names %q read back as %#x, %v", in, vs, names, back, err)
		}
	})
}
