package config

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

func TestLoadTOMLEveryKey(t *testing.T) {
	t.Setenv("SMTPKIT_TEST_TOKEN", "token-from-env")
	f, err := LoadTOML("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !slices.Equal(got, []string{"work", "work-tls", "plain"}) {
		t.Errorf("accounts %v", got)
	}
	if f.Default != "work" {
		t.Errorf("default %q", f.Default)
	}
	a := mustAccount(t, f, "")
	if a.Name != "work" {
		t.Fatalf("default account %q, want work", a.Name)
	}
	h := home(t)
	checks := []struct {
		name      string
		got, want any
	}{
		{"Host", a.Host, "smtp.example.com"},
		{"Port", a.Port, 2525},
		{"From", a.From, "alice@example.com"},
		{"Security", a.Security, smtpkit.SecurityStartTLS},
		{"LocalName", a.LocalName, "client.example.com"},
		{"ConnectTimeout", a.ConnectTimeout, 15 * time.Second},
		{"GreetingTimeout", a.GreetingTimeout, 5 * time.Second},
		{"CommandTimeout", a.CommandTimeout, time.Minute},
		{"DataTimeout", a.DataTimeout, 150 * time.Second},
		{"Timeout", a.Timeout, 10 * time.Minute},
		{"TLS.Versions", a.TLS.Versions, []uint16{tls.VersionTLS12, tls.VersionTLS13}},
		{"TLS.StrictVersions", a.TLS.StrictVersions, true},
		{"TLS.CAFile", a.TLS.CAFile, "/etc/ssl/ca.pem"},
		{"TLS.CertFile", a.TLS.CertFile, filepath.Join(h, "client.pem")},
		{"TLS.KeyFile", a.TLS.KeyFile, filepath.Join(h, "client.key")},
		{"TLS.Fingerprints", len(a.TLS.Fingerprints), 1},
		{"TLSServerName", a.TLSServerName, "mail.example.com"},
		{"TLSInsecureSkipVerify", a.TLSInsecureSkipVerify, true},
		{"Auth", a.Auth, AuthOn},
		{"AuthMechanisms", a.AuthMechanisms, []string{"SCRAM-SHA-256", "PLAIN"}},
		{"AllowCleartext", a.AllowCleartext, true},
		{"User", a.User, "alice"},
		{"Password is a command", a.Password.IsCommand(), true},
		{"Proxy", a.Proxy, "socks5h://127.0.0.1:9050"},
		{"ProxyFromEnvironment", a.ProxyFromEnvironment, true},
		{"LocalAddr", a.LocalAddr, "192.0.2.10"},
		{"QueueOnFailure", a.QueueOnFailure, true},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if name, ok := a.Token.EnvName(); !ok || name != "SMTPKIT_TEST_TOKEN" {
		t.Errorf("Token = %v, want env:SMTPKIT_TEST_TOKEN", a.Token)
	}
	if o, ok := a.Origin("port"); !ok || o.Line != 14 || o.File != "testdata/full.toml" {
		t.Errorf("Origin(port) = %v, want testdata/full.toml:14", o)
	}
	if o, _ := a.Origin("timeout"); o.Line != 10 {
		t.Errorf("Origin(timeout) = %v, want line 10 of [defaults]", o)
	}

	opts, err := a.Options(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Auth == nil || opts.Auth.Password != "secret-from-command" || opts.Auth.Token != "token-from-env" ||
		opts.Auth.Username != "alice" || !opts.Auth.AllowCleartext {
		t.Errorf("Options().Auth = %+v", opts.Auth)
	}
	if opts.Security != smtpkit.SecurityStartTLS || opts.Proxy != a.Proxy || opts.LocalAddr != a.LocalAddr ||
		opts.LocalName != a.LocalName || opts.TLSConfig.ServerName != a.TLSServerName || opts.DataTimeout != a.DataTimeout {
		t.Errorf("Options() = %+v", opts)
	}
	if got := a.Addr(); got != "smtp.example.com:2525" {
		t.Errorf("Addr() = %q", got)
	}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case []uint16:
		return slices.Equal(x, b.([]uint16))
	case []string:
		return slices.Equal(x, b.([]string))
	}
	return a == b
}

func TestTOMLInheritance(t *testing.T) {
	f, err := LoadTOML("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	a := mustAccount(t, f, "work-tls")
	if a.Host != "smtp.example.com" || a.User != "alice" || a.From != "alice@example.com" {
		t.Errorf("work-tls did not inherit work: %v", a)
	}
	if a.Security != smtpkit.SecurityImplicitTLS || a.Port != 465 {
		t.Errorf("work-tls's own settings lost: %v", a)
	}
	if a.Password.IsCommand() {
		t.Errorf("work-tls's password should replace work's command: %v", a.Password)
	}
	if a.ConnectTimeout != 15*time.Second {
		t.Errorf("work-tls lost the defaults: %v", a)
	}
	p := mustAccount(t, f, "plain")
	if p.Security != smtpkit.SecurityNone || p.Auth != AuthOff || p.LogsIn() || p.User != "" {
		t.Errorf("plain = %v", p)
	}
	if p.Addr() != "localhost:587" {
		t.Errorf("plain.Addr() = %q", p.Addr())
	}
	opts, err := p.Options(context.Background())
	if err != nil || opts.Auth != nil {
		t.Errorf("plain.Options() = %+v, %v; want no Auth", opts, err)
	}

	chain := `
[defaults]
port = 2525
[accounts.c]
inherit = "b"
from = "c@example.com"
[accounts.b]
inherit = "a"
user = "bob"
password_env = "PW"
[accounts.a]
host = "a.example.com"
port = 25
user = "alice"
`
	f, err = ParseTOML("chain.toml", []byte(chain))
	if err != nil {
		t.Fatal(err)
	}
	c := mustAccount(t, f, "c")
	if c.Host != "a.example.com" || c.Port != 25 || c.User != "bob" || c.From != "c@example.com" {
		t.Errorf("c = %v", c)
	}
	if _, err := f.Account(""); err == nil || !strings.Contains(err.Error(), "names no default") {
		t.Errorf("Account(\"\") with three accounts and no default: %v", err)
	}
	if _, err := f.Account("d"); err == nil || !strings.Contains(err.Error(), `there is no account "d"`) {
		t.Errorf("Account(d): %v", err)
	}
}

func TestTOMLInlineTables(t *testing.T) {
	f, err := ParseTOML("inline.toml", []byte(`
[accounts]
one = { host = "one.example.com", port = 26 }
two = { host = "two.example.com", inherit = "one" }
`))
	if err != nil {
		t.Fatal(err)
	}
	two := mustAccount(t, f, "two")
	if two.Host != "two.example.com" || two.Port != 26 {
		t.Errorf("two = %v", two)
	}
}

func TestTOMLErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
		key       string
		says      []string
	}{
		{"unknown key", "[accounts.a]\nhost = \"h\"\nhots = \"x\"\n", 3, "hots", []string{"no such setting", `did you mean "host"`}},
		{"unknown key in defaults", "[defaults]\n\nprot = 1\n", 3, "prot", []string{`did you mean "port"`}},
		{"dotted key", "[accounts.a]\ntls.versions = [\"1.2\"]\n", 2, "tls.versions", []string{"no dots"}},
		{"unknown table", "[account.a]\nhost = \"h\"\n", 1, "account.a", []string{"no such table"}},
		{"array of tables", "[[accounts]]\nhost = \"h\"\n", 1, "accounts", []string{"[accounts.NAME]"}},
		{"unknown top-level key", "host = \"h\"\n", 1, "host", []string{"top level"}},
		{"bad security", "[accounts.a]\nsecurity = \"startls\"\n", 2, "security", []string{`unknown security mode "startls"`}},
		{"bad duration", "[accounts.a]\n\nconnect_timeout = \"30 sec\"\n", 3, "connect_timeout", []string{"not a duration", "30s"}},
		{"negative duration", "[accounts.a]\ntimeout = \"-5s\"\n", 2, "timeout", []string{"negative"}},
		{"duration as integer", "[accounts.a]\ntimeout = 30\n", 2, "timeout", []string{"want a duration", "not an integer"}},
		{"bad port", "[accounts.a]\nport = 70000\n", 2, "port", []string{"70000 is out of range"}},
		{"zero port", "[accounts.a]\nport = 0\n", 2, "port", []string{"out of range", "leave the port out"}},
		{"port as string", "[accounts.a]\nport = \"587\"\n", 2, "port", []string{"want an integer", "not a string"}},
		{"bad bool", "[accounts.a]\ntls_insecure_skip_verify = \"yes\"\n", 2, "tls_insecure_skip_verify", []string{"want true or false"}},
		{"bad tls version", "[accounts.a]\ntls_versions = [\"1.2\", \"1.4\"]\n", 2, "tls_versions", []string{`"1.4" is not a TLS version`}},
		{"list of integers", "[accounts.a]\ntls_versions = [1, 2]\n", 2, "tls_versions", []string{"not a string"}},
		{"sha1 fingerprint", "[accounts.a]\ntls_fingerprints = [\"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\"]\n", 2, "tls_fingerprints", []string{"SHA-1", "only SHA-256"}},
		{"bad mechanism", "[accounts.a]\nauth_mechanisms = [\"GSSAPI\"]\n", 2, "auth_mechanisms", []string{`"GSSAPI" is not a mechanism`}},
		{"host with port", "[accounts.a]\nhost = \"smtp.example.com:587\"\n", 2, "host", []string{"put the port in its own setting"}},
		{"bad proxy", "[accounts.a]\nproxy = \"ftp://proxy.example\"\n", 2, "proxy", []string{"socks5h://"}},
		{"bad local address", "[accounts.a]\nlocal_address = \"eth0\"\n", 2, "local_address", []string{`"eth0" is not an IP address`}},
		{"float", "[accounts.a]\nport = 58.7\n", 2, "port", []string{"floating-point"}},
		{"two password keys", "[accounts.a]\npassword = \"x\"\npassword_env = \"Y\"\n", 3, "password_env", []string{`"password" is set too`}},
		{"inherit not a string", "[accounts.a]\ninherit = 1\n", 2, "inherit", []string{"name of the account"}},
		{"unknown parent", "[accounts.a]\nhost = \"h\"\ninherit = \"wrok\"\n[accounts.work]\nhost = \"w\"\n", 3, "inherit", []string{`no account "wrok"`, `did you mean "work"`}},
		{"cycle", "[accounts.a]\ninherit = \"b\"\n[accounts.b]\ninherit = \"c\"\n[accounts.c]\ninherit = \"a\"\n", 6, "inherit", []string{"cycle", "a -> b -> c -> a"}},
		{"self inheritance", "[accounts.a]\n\ninherit = \"a\"\n", 3, "inherit", []string{"cycle"}},
		{"unknown default", "default_account = \"x\"\n[accounts.a]\nhost = \"h\"\n", 1, "default_account", []string{`no account "x"`}},
		{"syntax error", "[accounts.a]\nhost = \"h\"\nport = \n", 3, "", []string{"TOML syntax error"}},
		{"duplicate key", "[accounts.a]\nhost = \"h\"\nhost = \"i\"\n", 3, "", []string{"TOML syntax error"}},
		{"unquoted text", "[accounts.a]\nhost = nowhere\n", 2, "", []string{"bad.toml:2:8: TOML syntax error", `host = "..."`, "double quotes"}},
		{"unquoted address", "[accounts.a]\nhost = smtp.example.com\n", 2, "", []string{"bad.toml:2:8:", `host = "..."`}},
		{"no value", "[accounts.a]\nhost = \n", 2, "", []string{"bad.toml:2:8:", "give host a value after the ="}},
		{"account not a table", "[accounts]\na = \"h\"\n", 2, "accounts.a", []string{"an account is a table"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTOML("bad.toml", []byte(tt.doc))
			wantError(t, err, "bad.toml", tt.line, tt.key, tt.says...)
		})
	}
}

func TestTOMLManyErrors(t *testing.T) {
	_, err := ParseTOML("bad.toml", []byte("[accounts.a]\nhots = 1\nport = 0\n"))
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("want two errors, one a line: %v", err)
	}
	wantError(t, err, "bad.toml", 2, "hots")
	wantError(t, err, "bad.toml", 3, "port")
}

func TestTOMLCheck(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
		key       string
		says      string
	}{
		{"missing host", "[accounts.a]\nport = 587\n", 1, "host", "no host is set"},
		{"missing host in inline table", "[accounts]\n\na = { port = 587 }\n", 3, "host", "no host is set"},
		{"cert without key", "[accounts.a]\nhost = \"h\"\ntls_cert_file = \"c.pem\"\n", 3, "tls_key_file", "set tls_key_file too"},
		{"user without password", "[accounts.a]\nhost = \"h\"\nuser = \"u\"\n", 3, "password", "no password is set"},
		{"password without user", "[accounts.a]\nhost = \"h\"\npassword_env = \"P\"\n", 3, "user", "no user"},
		{"auth on without anything", "[accounts.a]\nhost = \"h\"\nauth = true\n", 3, "password", "no password"},
		{"token mechanisms without a token", "[accounts.a]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\nauth_mechanisms = [\"XOAUTH2\"]\n", 5, "token_command", "need an OAuth 2 token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseTOML("check.toml", []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			a := mustAccount(t, f, "a")
			wantError(t, a.Check(), "check.toml", tt.line, tt.key, tt.says)
			if _, err := a.Options(context.Background()); err == nil {
				t.Error("Options() works where Check fails")
			}
		})
	}
	f, err := ParseTOML("ok.toml", []byte("[accounts.a]\nhost = \"h\"\nauth_mechanisms = [\"EXTERNAL\"]\ntls_cert_file = \"c\"\ntls_key_file = \"k\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mustAccount(t, f, "a").Check(); err != nil {
		t.Errorf("EXTERNAL with a client certificate needs no password: %v", err)
	}
}

func TestLoadTOMLMissingFile(t *testing.T) {
	_, err := LoadTOML("testdata/nonexistent.toml")
	if err == nil || !strings.Contains(err.Error(), "testdata/nonexistent.toml") {
		t.Errorf("error %v does not name the file", err)
	}
}

func TestLoadWarnsAboutReadablePassword(t *testing.T) {
	doc := "[accounts.a]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n"
	p := writeFile(t, "open.toml", doc, 0o644)
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0].String(), "chmod 600") {
		t.Errorf("warnings %v; want one about the mode", f.Warnings)
	}
	p = writeFile(t, "closed.toml", doc, 0o600)
	if f, err = Load(p); err != nil || len(f.Warnings) != 0 {
		t.Errorf("a private file: %v, %v", f.Warnings, err)
	}
	p = writeFile(t, "nopassword.toml", "[accounts.a]\nhost = \"h\"\npassword_env = \"X\"\nuser = \"u\"\n", 0o644)
	if f, err = Load(p); err != nil || len(f.Warnings) != 0 {
		t.Errorf("a file without a password: %v, %v", f.Warnings, err)
	}
}
