package config

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

func TestLoadMsmtprcEveryCommand(t *testing.T) {
	f, err := LoadMsmtprc("testdata/full.msmtprc")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !slices.Equal(got, []string{"work", "smtps", "oauth", "plain", "default"}) {
		t.Errorf("accounts %v", got)
	}
	h := home(t)
	w := mustAccount(t, f, "work")
	checks := []struct {
		name      string
		got, want any
	}{
		{"Host", w.Host, "smtp.example.com"},
		{"Port", w.Port, 587},
		{"From", w.From, "alice@example.com"},
		{"Security", w.Security, smtpkit.SecurityStartTLS},
		{"Auth", w.Auth, AuthOn},
		{"AuthMechanisms", w.AuthMechanisms, []string{"SCRAM-SHA-256"}},
		{"User", w.User, "alice"},
		{"Password is a command", w.Password.IsCommand(), true},
		{"TLS.CAFile", w.TLS.CAFile, ""},
		{"TLS.Fingerprints", len(w.TLS.Fingerprints), 1},
		{"TLS.CertFile", w.TLS.CertFile, filepath.Join(h, "client.pem")},
		{"TLS.KeyFile", w.TLS.KeyFile, filepath.Join(h, "client.key")},
		{"TLSServerName", w.TLSServerName, "mail.example.com"},
		{"TLSInsecureSkipVerify", w.TLSInsecureSkipVerify, false},
		{"Proxy", w.Proxy, "socks5h://127.0.0.1:9050"},
		{"LocalAddr", w.LocalAddr, "192.0.2.10"},
		{"LocalName", w.LocalName, "client.example.com"},
		{"ConnectTimeout", w.ConnectTimeout, 20 * time.Second},
		{"GreetingTimeout", w.GreetingTimeout, 20 * time.Second},
		{"CommandTimeout", w.CommandTimeout, 20 * time.Second},
		{"DataTimeout", w.DataTimeout, 20 * time.Second},
		{"Timeout", w.Timeout, time.Duration(0)},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("work: %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	opts, err := w.Options(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Auth == nil || opts.Auth.Password != "secret-from-eval" || opts.Auth.Username != "alice" {
		t.Errorf("work: Options().Auth = %+v", opts.Auth)
	}

	s := mustAccount(t, f, "smtps")
	if s.Host != "smtp.example.com" || s.User != "alice" || s.Security != smtpkit.SecurityImplicitTLS ||
		s.Port != 465 || !s.TLSInsecureSkipVerify || s.TLS.CAFile != "/etc/ssl/ca.pem" {
		t.Errorf("smtps = %v", s)
	}
	if pw, err := s.Password.Resolve(context.Background()); err != nil || pw != "secret-in-file" {
		t.Errorf("smtps: password %q, %v; want the one in the file, which wins over passwordeval", pw, err)
	}

	o := mustAccount(t, f, "oauth")
	if !o.Password.IsZero() || !o.Token.IsCommand() || !slices.Equal(o.AuthMechanisms, []string{"XOAUTH2"}) {
		t.Errorf("oauth: password %v, token %v, mechanisms %v; want the token from passwordeval", o.Password, o.Token, o.AuthMechanisms)
	}

	p := mustAccount(t, f, "plain")
	if p.Security != smtpkit.SecurityNone || p.Port != 25 || p.Auth != AuthOff || p.LogsIn() {
		t.Errorf("plain = %v", p)
	}
	if p.ConnectTimeout != 20*time.Second {
		t.Errorf("plain lost the defaults: %v", p)
	}

	d := mustAccount(t, f, "")
	if d.Name != "default" || d.Port != 465 || d.Security != smtpkit.SecurityImplicitTLS {
		t.Errorf("default account = %v; want smtps's settings", d)
	}

	var warned []string
	for _, w := range f.Warnings {
		warned = append(warned, w.Key)
	}
	for _, key := range []string{"logfile", "syslog", "passwordeval", "tls"} {
		if !slices.Contains(warned, key) {
			t.Errorf("no warning about %s in %v", key, f.Warnings)
		}
	}
}

// TestMsmtprcInheritance checks the settings msmtp 1.8.23 prints with
// --pretend for this file: defaults apply to the accounts after them, and
// "account NAME : A, B" takes what A and then B set.
func TestMsmtprcInheritance(t *testing.T) {
	doc := `host top.example
user u0
account a
host a.example
user bob
tls on
tls_starttls off
account b : a
account c : a, default
port 2525
tls_starttls
auth plain
account d
host d.example
auth
defaults
port 99
account e : d
`
	f, err := ParseMsmtprc("rc", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, host string
		port       int
		auth       AuthMode
		mechs      []string
		user       string
		security   smtpkit.Security
	}{
		{"default", "top.example", 25, AuthOff, nil, "u0", smtpkit.SecurityNone},
		{"a", "a.example", 465, AuthOff, nil, "bob", smtpkit.SecurityImplicitTLS},
		{"b", "a.example", 465, AuthOff, nil, "bob", smtpkit.SecurityImplicitTLS},
		{"c", "top.example", 2525, AuthOn, []string{"PLAIN"}, "u0", smtpkit.SecurityStartTLS},
		{"d", "d.example", 25, AuthOn, nil, "", smtpkit.SecurityNone},
		{"e", "d.example", 99, AuthOn, nil, "", smtpkit.SecurityNone},
	}
	for _, w := range want {
		a := mustAccount(t, f, w.name)
		if a.Host != w.host || a.Port != w.port || a.Auth != w.auth || !slices.Equal(a.AuthMechanisms, w.mechs) ||
			a.User != w.user || a.Security != w.security {
			t.Errorf("%s = %v\nwant host=%s port=%d auth=%v mechanisms=%v user=%q security=%v",
				w.name, a, w.host, w.port, w.auth, w.mechs, w.user, w.security)
		}
	}
	if f.Default != "default" {
		t.Errorf("Default = %q", f.Default)
	}
}

func TestMsmtprcQuoting(t *testing.T) {
	doc := "account q\n\thost\t smtp.example.com \n  user \"  spaced user  \"\npassword \"a\\\"b\\\\c\"\n" +
		"from \"\"\n   # an indented comment\ndomain \"client.example.com\"\nauth on\ntls on\n"
	f, err := ParseMsmtprc("rc", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	a := mustAccount(t, f, "q")
	if a.Host != "smtp.example.com" || a.User != "  spaced user  " || a.From != "" || a.LocalName != "client.example.com" {
		t.Errorf("q = %v", a)
	}
	// Like msmtp, quotes are removed and backslashes kept.
	if pw, _ := a.Password.Resolve(context.Background()); pw != `a\"b\\c` {
		t.Errorf("password %q, want %q", pw, `a\"b\\c`)
	}
}

func TestMsmtprcErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
		key       string
		says      []string
	}{
		{"unknown command", "account a\nhost h\nhots h\n", 3, "hots", []string{"no such msmtp command", `did you mean "host"`}},
		{"bad tls", "account a\nhost h\ntls maybe\n", 3, "tls", []string{`"maybe" is not on or off`}},
		{"bad port", "account a\n\nport 0\n", 3, "port", []string{"not a port"}},
		{"bad timeout", "account a\ntimeout five\n", 2, "timeout", []string{"number of seconds"}},
		{"sha1 fingerprint", "account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\n", 2, "tls_fingerprint", []string{"SHA-1", "only SHA-256"}},
		{"md5 fingerprint", "account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\n", 2, "tls_fingerprint", []string{"MD5", "only SHA-256"}},
		{"socket", "account a\nsocket /run/smtp.sock\n", 2, "socket", []string{"TCP only"}},
		{"lmtp", "account a\nprotocol lmtp\n", 2, "protocol", []string{"not LMTP"}},
		{"eval", "account a\neval echo host x\n", 2, "eval", []string{"not supported"}},
		{"gssapi", "account a\nauth gssapi\n", 2, "auth", []string{"does not support gssapi"}},
		{"bad auth", "account a\nauth kerberos\n", 2, "auth", []string{"not an authentication method"}},
		{"forward reference", "account a : b\nhost h\naccount b\nhost i\n", 1, "account", []string{`no account "b" defined before this line`}},
		{"duplicate account", "account a\nhost h\naccount a\nhost i\n", 3, "account", []string{"already defined on line 1"}},
		{"missing name", "account : a\n", 1, "account", []string{"no name"}},
		{"missing parent", "account a\nhost h\naccount b : a,\n", 3, "account", []string{"missing"}},
		{"defaults with argument", "defaults x\n", 1, "defaults", []string{"takes no argument"}},
		{"empty host", "account a\nhost\n", 2, "host", []string{"host is empty"}},
		{"trailing comment", "account a\nhost smtp.example.com # mine\n", 2, "host", []string{"comment must be on a line of its own"}},
		{"domain substitution", "account a\ndomain %H\n", 2, "domain", []string{"substitutions"}},
		{"bad source ip", "account a\nsource_ip eth0\n", 2, "source_ip", []string{"not an IP address"}},
		{"tls_nostarttls with argument", "account a\ntls_nostarttls on\n", 2, "tls_nostarttls", []string{"takes no argument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMsmtprc("msmtprc", []byte(tt.doc))
			wantError(t, err, "msmtprc", tt.line, tt.key, tt.says...)
		})
	}
}

func TestMsmtprcCheck(t *testing.T) {
	f, err := ParseMsmtprc("msmtprc", []byte("defaults\ntls on\n\naccount nohost\nport 587\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, mustAccount(t, f, "nohost").Check(), "msmtprc", 4, "host", "no host is set")
}

func TestMsmtprcCompatibility(t *testing.T) {
	doc := "account old\nhost h\ntls_nostarttls\ntls_nocertcheck\ntls on\nconnect_timeout 9\ntimeout off\n"
	f, err := ParseMsmtprc("rc", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	a := mustAccount(t, f, "old")
	if a.Security != smtpkit.SecurityImplicitTLS || !a.TLSInsecureSkipVerify || a.Port != 465 || a.ConnectTimeout != 0 {
		t.Errorf("old = %v", a)
	}
}

func TestMsmtprcWarnings(t *testing.T) {
	doc := "account a\nhost h\ntls on\nuser u\npassword p\nlogfile -\ndsn_notify failure\nauth plain\ntls off\n"
	f, err := ParseMsmtprc("rc", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]int{}
	for _, w := range f.Warnings {
		lines[w.Key] = w.Line
		if strings.Contains(w.String(), "rc:") == false {
			t.Errorf("warning %q does not name the file", w)
		}
	}
	if lines["logfile"] != 6 || lines["dsn_notify"] != 7 || lines["auth"] != 8 || lines["tls"] != 9 {
		t.Errorf("warnings %v", f.Warnings)
	}

	f, err = ParseMsmtprc("rc", []byte("account a\nhost h\ntls on\nuser u\npassword p\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0].Message, "add auth on") {
		t.Errorf("warnings %v; want one saying there is no login without auth on", f.Warnings)
	}
}

func TestDefaultMsmtprcPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", "")
	rc := filepath.Join(dir, ".msmtprc")
	xdg := filepath.Join(dir, ".config", "msmtp", "config")
	if got := DefaultMsmtprcPath(); got != rc {
		t.Errorf("with neither file: %q, want %q", got, rc)
	}
	if err := os.MkdirAll(filepath.Dir(xdg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(xdg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := DefaultMsmtprcPath(); got != xdg {
		t.Errorf("with the XDG file: %q, want %q", got, xdg)
	}
	other := filepath.Join(dir, "elsewhere")
	t.Setenv("XDG_CONFIG_HOME", other)
	if got := DefaultMsmtprcPath(); got != rc {
		t.Errorf("with XDG_CONFIG_HOME elsewhere: %q, want %q", got, rc)
	}
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	if got := DefaultMsmtprcPath(); got != rc {
		t.Errorf("with both files: %q, want ~/.msmtprc first, as msmtp", got)
	}
}
