package config

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

func TestParseURL(t *testing.T) {
	a, err := ParseURL("smtp://user%40example.com:p%40ss%2Fw%3Ard@smtp.example.com:587" +
		"?security=starttls&timeout=30s&proxy=socks5://proxy.example:1080&auth=SCRAM-SHA-256,plain&from=me%2Bmail@example.com" +
		"&tls_versions=1.2,1.3&tls_insecure_skip_verify=false&ehlo_name=client.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if a.Host != "smtp.example.com" || a.Port != 587 || a.User != "user@example.com" || a.Security != smtpkit.SecurityStartTLS ||
		a.Timeout != 30*time.Second || a.Proxy != "socks5://proxy.example:1080" || a.From != "me+mail@example.com" ||
		!slices.Equal(a.AuthMechanisms, []string{"SCRAM-SHA-256", "PLAIN"}) || len(a.TLS.Versions) != 2 ||
		a.LocalName != "client.example.com" {
		t.Errorf("account = %v", a)
	}
	if pw, _ := a.Password.Resolve(context.Background()); pw != "p@ss/w:rd" {
		t.Errorf("password %q, want it percent-decoded", pw)
	}
	if !a.IsSet("tls_insecure_skip_verify") {
		t.Error("tls_insecure_skip_verify=false is not marked as set")
	}
	if got := a.Addr(); got != "smtp.example.com:587" {
		t.Errorf("Addr() = %q", got)
	}

	s, err := ParseURL("smtps://[2001:db8::1]?auth=off")
	if err != nil {
		t.Fatal(err)
	}
	if s.Security != smtpkit.SecurityImplicitTLS || s.Host != "2001:db8::1" || s.Auth != AuthOff || s.Addr() != "[2001:db8::1]:465" {
		t.Errorf("smtps = %v, Addr %q", s, s.Addr())
	}
	p, err := ParseURL("smtp://mail.example.com/")
	if err != nil || p.Security != smtpkit.SecurityTLSAuto || p.IsSet("security") || p.Addr() != "mail.example.com:587" {
		t.Errorf("smtp:// without security: %v, %v", p, err)
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ raw, key, says string }{
		{"smtp://h?hots=x", "hots", "no such setting"},
		{"smtp://h?port=1&port=2", "port", "given 2 times"},
		{"smtp://h?timeout=30x", "timeout", "not a duration"},
		{"smtp://h:0", "port", "out of range"},
		{"smtp://h:99999", "port", "out of range"},
		{"smtp://h/path", "path", "has a path"},
		{"smtp://h#frag", "fragment", "fragment"},
		{"http://h", "scheme", "not smtp or smtps"},
		{"h:25", "scheme", "not smtp or smtps"},
		{"smtps://h?security=starttls", "security", "already means implicit TLS"},
		{"smtp://h?password=s3cretXYZ", "password", "in the URL itself"},
		{"smtp://?security=none", "host", "host is empty"},
	}
	for _, tt := range tests {
		_, err := ParseURL(tt.raw)
		if err == nil || !strings.Contains(err.Error(), "URL") || !strings.Contains(err.Error(), `key "`+tt.key+`"`) ||
			!strings.Contains(err.Error(), tt.says) {
			t.Errorf("ParseURL(%q) = %v; want an error naming the key %q and saying %q", tt.raw, err, tt.key, tt.says)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseURL(%q): error %q shows the password", tt.raw, err)
		}
	}
}

func TestParseURLNeverShowsThePassword(t *testing.T) {
	for _, raw := range []string{
		"smtp://user:s3cr/et@host",
		"smtp://user:s3cr%zzet@host",
		"smtp://user:s3cr et@host",
		"smtp://user:s3cr\net@host",
		"smtp://user:s3cr?et@host",
		"smtp://user:s3cr#et@host",
		"smtp://user:s3cr@et@host:x",
		"smtp://user:s3cret@ho st",
	} {
		a, err := ParseURL(raw)
		shown := ""
		if err != nil {
			shown = err.Error()
		} else {
			shown = a.String() + a.GoString()
		}
		if strings.Contains(shown, "s3cr") {
			t.Errorf("ParseURL(%q) shows the password: %s", raw, shown)
		}
	}
}
