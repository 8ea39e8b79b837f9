package config

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

func TestAccountNeverPrintsSecrets(t *testing.T) {
	a := &Account{Name: "work", Host: "smtp.example.com", User: "alice",
		Password: SecretValue("hunter2-password"), Token: SecretValue("ya29.token-value"),
		Proxy: "socks5://bob:proxy-secret@proxy.example:1080"}
	b := a.Clone()
	b.Password = SecretFromCommand("echo command-secret")
	for _, acct := range []*Account{a, b} {
		var out strings.Builder
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10.3v"} {
			fmt.Fprintf(&out, verb+"\n", acct)
			fmt.Fprintf(&out, verb+"\n", *acct)
			fmt.Fprintf(&out, verb+"\n", []any{acct, *acct})
			fmt.Fprintf(&out, verb+"\n", struct{ A Account }{*acct})
			fmt.Fprintf(&out, verb+"\n", acct.Password)
		}
		out.WriteString(acct.String() + acct.GoString())
		var logged bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logged, nil))
		log.Info("account", "acct", acct, "value", *acct, "password", acct.Password)
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("account", "acct", acct)
		out.Write(logged.Bytes())
		for _, secret := range []string{"hunter2", "ya29", "command-secret", "proxy-secret"} {
			if strings.Contains(out.String(), secret) {
				t.Errorf("the output shows %q:\n%s", secret, out.String())
			}
		}
		if !strings.Contains(out.String(), "smtp.example.com") || !strings.Contains(out.String(), "<redacted>") {
			t.Errorf("the output does not describe the account:\n%s", out.String())
		}
	}
}

func TestMergePrecedence(t *testing.T) {
	f, err := ParseTOML("file.toml", []byte(`
[accounts.work]
host = "file.example.com"
port = 587
user = "file-user"
password = "file-password"
security = "starttls"
tls_insecure_skip_verify = true
from = "file@example.com"
queue_on_failure = true
`))
	if err != nil {
		t.Fatal(err)
	}
	file := mustAccount(t, f, "work")
	env, err := fromLookup(mapLookup(map[string]string{
		"SMTPKIT_PORT":     "2525",
		"SMTPKIT_PASSWORD": "env-password",
		"SMTPKIT_HOST":     "", // empty: unset
	}))
	if err != nil {
		t.Fatal(err)
	}
	flags := &Account{DefinedAt: Origin{File: "command line"}}
	if err := flags.Set("host", "flag.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := flags.Set("tls_insecure_skip_verify", "false"); err != nil {
		t.Fatal(err)
	}
	if err := flags.Set("queue_on_failure", "off"); err != nil {
		t.Fatal(err)
	}
	flags.From = "direct@example.com" // assigned, not Set: counts because it is not zero

	m := Merge(file, env, nil, flags)
	if m.Name != "work" || m.Host != "flag.example.com" || m.Port != 2525 || m.User != "file-user" ||
		m.Security != smtpkit.SecurityStartTLS || m.TLSInsecureSkipVerify || m.From != "direct@example.com" ||
		m.QueueOnFailure || !m.IsSet("queue_on_failure") || !file.QueueOnFailure {
		t.Errorf("merged = %v", m)
	}
	if pw, _ := m.Password.Resolve(context.Background()); pw != "env-password" {
		t.Errorf("password %q, want the environment's", pw)
	}
	for key, want := range map[string]string{
		"host": "command line", "port": "environment", "user": "file.toml", "tls_insecure_skip_verify": "command line",
		"queue_on_failure": "command line",
	} {
		if o, ok := m.Origin(key); !ok || o.File != want {
			t.Errorf("Origin(%s) = %v, want %s", key, o, want)
		}
	}
	if file.Host != "file.example.com" || file.Port != 587 {
		t.Errorf("Merge changed its layer: %v", file)
	}
	if o, _ := m.Origin("port"); o.Key != "SMTPKIT_PORT" {
		t.Errorf("Origin(port).Key = %q", o.Key)
	}
	if got := Merge(); got == nil || got.Host != "" {
		t.Errorf("Merge() = %v", got)
	}
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestSet(t *testing.T) {
	a := &Account{DefinedAt: Origin{File: "flags"}}
	good := map[string]string{
		"host": "h", "port": "25", "security": "SMTPS", "connect_timeout": "1s", "tls_versions": "tls1.2, TLS 1.3",
		"auth": "on", "auth_mechanisms": "plain,login", "allow_cleartext_auth": "yes", "user": "u",
		"password_env": "PW", "token_command": "echo t", "proxy_from_environment": "1", "local_address": "[2001:db8::1]:0",
		"queue_on_failure": "yes",
		"tls_fingerprints": "5ea100112233445566778899aabbccddeeff00112233445566778899aabbccdd",
	}
	for k, v := range good {
		if err := a.Set(k, v); err != nil {
			t.Errorf("Set(%q, %q): %v", k, v, err)
		}
		if !a.IsSet(k) {
			t.Errorf("Set(%q) did not mark it set", k)
		}
	}
	if a.Security != smtpkit.SecurityImplicitTLS || a.ConnectTimeout != time.Second || a.Auth != AuthOn ||
		!a.AllowCleartext || !a.ProxyFromEnvironment || len(a.TLS.Versions) != 2 || !a.QueueOnFailure {
		t.Errorf("account = %v", a)
	}
	if err := a.Set("auth", "XOAUTH2"); err != nil || len(a.AuthMechanisms) != 1 {
		t.Errorf("Set(auth, XOAUTH2) = %v, mechanisms %v", err, a.AuthMechanisms)
	}
	bad := map[string]string{
		"port": "smtp", "prot": "25", "auth": "kerberos", "tls_insecure_skip_verify": "maybe", "timeout": "1 minute",
		"ehlo_name": "two words", "password_env": "A=B",
	}
	for k, v := range bad {
		err := a.Set(k, v)
		if err == nil || !strings.Contains(err.Error(), "flags: ") || !strings.Contains(err.Error(), `key "`) {
			t.Errorf("Set(%q, %q) = %v; want an error naming the source and key", k, v, err)
		}
	}
	if err := a.Set("password", "flag-secret"); err != nil {
		t.Fatal(err)
	}
	if err := a.Set("port", "x-flag-secret"); err == nil || strings.Contains(a.String(), "flag-secret") {
		t.Errorf("String() = %s", a)
	}
}

func TestFromEnvironment(t *testing.T) {
	a, err := fromLookup(mapLookup(map[string]string{
		"SMTPKIT_URL":              "smtps://url-user:url-pass@url.example.com:2465?from=url@example.com",
		"SMTPKIT_HOST":             "env.example.com",
		"SMTPKIT_SECURITY":         "starttls",
		"SMTPKIT_TLS_VERSIONS":     "1.3",
		"SMTPKIT_PASSWORD_COMMAND": "echo env-secret",
		"OTHER":                    "x",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if a.Host != "env.example.com" || a.Port != 2465 || a.User != "url-user" || a.From != "url@example.com" ||
		a.Security != smtpkit.SecurityStartTLS || len(a.TLS.Versions) != 1 || !a.Password.IsCommand() {
		t.Errorf("account = %v", a)
	}
	if o, _ := a.Origin("user"); o.File != "environment" || o.Key != "SMTPKIT_URL" {
		t.Errorf("Origin(user) = %v", o)
	}
	if a.IsSet("proxy") {
		t.Error("proxy is set without a variable")
	}

	_, err = fromLookup(mapLookup(map[string]string{"SMTPKIT_PORT": "abc"}))
	if err == nil || !strings.Contains(err.Error(), `environment: key "SMTPKIT_PORT"`) {
		t.Errorf("bad port: %v", err)
	}
	_, err = fromLookup(mapLookup(map[string]string{"SMTPKIT_PASSWORD": "a", "SMTPKIT_PASSWORD_ENV": "B"}))
	if err == nil || !strings.Contains(err.Error(), "SMTPKIT_PASSWORD is set too") {
		t.Errorf("two passwords: %v", err)
	}
	_, err = fromLookup(mapLookup(map[string]string{"SMTPKIT_URL": "smtp://u:env-url-secret@h:x"}))
	if err == nil || !strings.Contains(err.Error(), "SMTPKIT_URL") || strings.Contains(err.Error(), "env-url-secret") {
		t.Errorf("bad URL: %v", err)
	}

	t.Setenv("SMTPKIT_FROM", "real@example.com")
	b, err := FromEnvironment()
	if err != nil || b.From != "real@example.com" {
		t.Errorf("FromEnvironment() = %v, %v", b, err)
	}
}

func TestOptionsAddrAndDefaults(t *testing.T) {
	a := &Account{Host: "h", Security: smtpkit.SecurityImplicitTLS}
	if a.Addr() != "h:465" {
		t.Errorf("Addr() = %q", a.Addr())
	}
	a.Port = 2465
	if a.Addr() != "h:2465" {
		t.Errorf("Addr() = %q", a.Addr())
	}
	opts, err := a.Options(context.Background())
	if err != nil || opts.Auth != nil || opts.Security != smtpkit.SecurityImplicitTLS {
		t.Errorf("Options() = %+v, %v", opts, err)
	}
	a.TLS.Versions = []uint16{0x0303}
	opts, _ = a.Options(context.Background())
	opts.TLS.Versions[0] = 0
	if a.TLS.Versions[0] != 0x0303 {
		t.Error("Options() shares TLS.Versions with the account")
	}
	a.User, a.Password = "u", SecretFromEnv("SMTPKIT_TEST_UNSET_VARIABLE")
	if _, err := a.Options(context.Background()); err == nil || !strings.Contains(err.Error(), "SMTPKIT_TEST_UNSET_VARIABLE is not set") {
		t.Errorf("Options() with an unset variable: %v", err)
	}
	a.Auth = AuthOff
	if opts, err := a.Options(context.Background()); err != nil || opts.Auth != nil {
		t.Errorf("Options() with auth off resolved the password: %v", err)
	}
}

func TestFileAccount(t *testing.T) {
	f := &File{Name: "f", Accounts: []*Account{{Name: "only", Host: "h"}}}
	a := mustAccount(t, f, "")
	a.Host = "changed"
	if f.Accounts[0].Host != "h" {
		t.Error("Account returns the file's own account, not a copy")
	}
	if _, err := (&File{Name: "empty"}).Account(""); err == nil || !strings.Contains(err.Error(), "empty: ") {
		t.Errorf("no accounts: %v", err)
	}
	if s := f.String(); !strings.Contains(s, "only") {
		t.Errorf("String() = %q", s)
	}
	if _, err := Load("testdata/web.config"); err != nil {
		t.Errorf("Load(web.config): %v", err)
	}
	if _, err := Load("testdata/full.msmtprc"); err != nil {
		t.Errorf("Load(msmtprc): %v", err)
	}
}
