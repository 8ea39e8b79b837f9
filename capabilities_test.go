package smtpkit

import (
	"slices"
	"testing"
)

func TestParseCapabilities(t *testing.T) {
	caps := parseCapabilities(&Reply{Code: 250, Lines: []string{
		"mx.example.com greets [192.0.2.1]",
		"PIPELINING",
		"SIZE 10240000",
		"auth=LOGIN PLAIN",
		"AUTH PLAIN CRAM-MD5 scram-sha-256",
		"8BITMIME",
		"ENHANCEDSTATUSCODES",
		"CHUNKING",
		"SMTPUTF8",
		"STARTTLS",
	}})
	if !caps.ESMTP() {
		t.Error("ESMTP() = false after a 250 EHLO reply")
	}
	if got := caps.Lines(); len(got) != 9 || got[0] != "PIPELINING" || got[3] != "AUTH PLAIN CRAM-MD5 scram-sha-256" {
		t.Errorf("Lines() = %q, want the 9 extension lines as sent", got)
	}
	for _, ok := range []bool{caps.Pipelining(), caps.EightBitMIME(), caps.EnhancedStatusCodes(),
		caps.Chunking(), caps.SMTPUTF8(), caps.StartTLS(), caps.Has("size"), caps.Has("Pipelining")} {
		if !ok {
			t.Errorf("an announced extension reads as absent: %+v", caps)
		}
	}
	for _, absent := range []bool{caps.DSN(), caps.BinaryMIME(), caps.RequireTLS(), caps.Has("mx.example.com")} {
		if absent {
			t.Errorf("an extension not announced reads as present: %+v", caps)
		}
	}
	if n, ok := caps.Size(); !ok || n != 10240000 {
		t.Errorf("Size() = %d, %v; want 10240000, true", n, ok)
	}
	want := []string{"LOGIN", "PLAIN", "CRAM-MD5", "SCRAM-SHA-256"}
	if got := caps.AuthMechanisms(); !slices.Equal(got, want) {
		t.Errorf("AuthMechanisms() = %q, want %q", got, want)
	}
}

func TestCapabilitiesEdges(t *testing.T) {
	var none Capabilities
	if none.ESMTP() || none.Has("PIPELINING") || len(none.AuthMechanisms()) != 0 || len(none.Lines()) != 0 {
		t.Errorf("zero Capabilities announce something: %+v", none)
	}
	if _, ok := none.Size(); ok {
		t.Error("zero Capabilities have SIZE")
	}
	caps := parseCapabilities(&Reply{Code: 250, Lines: []string{"hi", "SIZE", "AUTH"}})
	if n, ok := caps.Size(); !ok || n != 0 {
		t.Errorf("bare SIZE: Size() = %d, %v; want 0, true (no limit named)", n, ok)
	}
	if m := caps.AuthMechanisms(); len(m) != 0 {
		t.Errorf("bare AUTH: mechanisms %q, want none", m)
	}
	caps = parseCapabilities(&Reply{Code: 250, Lines: []string{"hi", "SIZE banana"}})
	if n, ok := caps.Size(); !ok || n != 0 {
		t.Errorf("SIZE banana: Size() = %d, %v; want 0, true", n, ok)
	}
}

func TestParseSecurity(t *testing.T) {
	for s := SecurityTLSAuto; s <= SecurityNone; s++ {
		got, err := ParseSecurity(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSecurity(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
	if got, _ := ParseSecurity("SSL"); got != SecurityImplicitTLS {
		t.Errorf("ParseSecurity(SSL) = %v, want implicit-tls", got)
	}
	if _, err := ParseSecurity("maybe"); err == nil {
		t.Error("ParseSecurity(maybe): no error")
	}
}
