package config_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/config"
	"github.com/smtpkit/smtpkit/smtptest"
)

// LoadTOML reads smtpkit's own format: defaults, accounts and inheritance.
func ExampleLoadTOML() {
	dir, err := os.MkdirTemp("", "config-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "smtpkit.toml")
	err = os.WriteFile(path, []byte(`
default_account = "work"

[defaults]
connect_timeout = "15s"

[accounts.work]
host = "smtp.example.com"
security = "starttls"
user = "alice@example.com"
password_command = "pass show mail/work"

[accounts.work-tls]
inherit = "work"
security = "implicit-tls"
`), 0o600)
	if err != nil {
		fmt.Println(err)
		return
	}

	file, err := config.LoadTOML(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(file.Names(), file.Default)
	for _, a := range file.Accounts {
		fmt.Println(a.Name, a.Addr(), a.Security, a.ConnectTimeout, a.Password)
	}
	// Output:
	// [work work-tls] work
	// work smtp.example.com:587 starttls 15s command:<redacted>
	// work-tls smtp.example.com:465 implicit-tls 15s command:<redacted>
}

// ParseURL reads a whole account from one string, as a flag or an
// environment variable holds it; printing it never shows the password.
func ExampleParseURL() {
	acct, err := config.ParseURL("smtps://alice:s3cret@smtp.example.com?timeout=30s&from=alice@example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(acct.Addr(), acct.Security, acct.User, acct.From, acct.Timeout)
	fmt.Println(acct)

	_, err = config.ParseURL("smtps://alice:s3cret@smtp.example.com?security=starttls")
	fmt.Println(err)
	// Output:
	// smtp.example.com:465 implicit-tls alice alice@example.com 30s
	// account: host=smtp.example.com from=alice@example.com security=implicit-tls timeout=30s user=alice password=<redacted>
	// URL: key "security": smtps:// already means implicit TLS: use smtp:// with security=..., or drop the parameter
}

// Options turns an account into smtpkit.Options, reading the password only
// now; here the account reaches a test server through its CA file.
func ExampleAccount_Options() {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	srv.Users = map[string]string{"alice": "s3cret"}
	srv.Start()
	defer srv.Close()

	dir, err := os.MkdirTemp("", "config-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, smtptest.CertificatePEM(), 0o600); err != nil {
		fmt.Println(err)
		return
	}

	acct, err := config.ParseURL("smtp://alice:s3cret@" + srv.Addr + "?security=starttls&tls_ca_file=" + url.QueryEscape(ca))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	opts, err := acct.Options(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := smtpkit.Dial(ctx, acct.Addr(), opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)
	fmt.Println(opts.Security, opts.Auth.Username, c.Security(), c.AuthMechanism())
	// Output:
	// starttls alice starttls PLAIN
}

// Errors name the file, the line, the account and the key, and say what
// to write instead.
func ExampleError() {
	_, err := config.ParseTOML("smtpkit.toml", []byte(`
[accounts.work]
host = "smtp.example.com"
connect_timeout = "15 seconds"
`))
	fmt.Println(err)

	var e *config.Error
	if errors.As(err, &e) {
		fmt.Println(e.File, e.Line, e.Account, e.Key)
	}
	// Output:
	// smtpkit.toml:4: account "work": key "connect_timeout": "15 seconds" is not a duration: want a number with a unit, such as 30s, 2m or 1m30s
	// smtpkit.toml 4 work connect_timeout
}

// FromEnvironment is the layer of SMTPKIT_ variables, between a file and
// the command line; Origin tells where each setting came from.
func ExampleFromEnvironment() {
	os.Setenv("SMTPKIT_URL", "smtp://alice@smtp.example.com")
	os.Setenv("SMTPKIT_PORT", "2525")
	defer os.Unsetenv("SMTPKIT_URL")
	defer os.Unsetenv("SMTPKIT_PORT")

	env, err := config.FromEnvironment()
	if err != nil {
		fmt.Println(err)
		return
	}
	file, err := config.ParseTOML("smtpkit.toml", []byte(`
[accounts.work]
host = "mail.example.org"
security = "starttls"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	acct, _ := file.Account("")
	final := config.Merge(acct, env)
	fmt.Println(final.Addr(), final.User, final.Security)
	for _, key := range []string{"host", "port", "security"} {
		where, _ := final.Origin(key)
		fmt.Println(key, "from", where)
	}
	// Output:
	// smtp.example.com:2525 alice starttls
	// host from environment: key "SMTPKIT_URL"
	// port from environment: key "SMTPKIT_PORT"
	// security from smtpkit.toml:4: key "security"
}

// HintText words smtpkit's hints as keys of the file, for a program that
// reports errors to someone editing it.
func ExampleHintText() {
	srv := smtptest.NewServer(smtptest.Plain) // offers no STARTTLS
	defer srv.Close()

	acct, err := config.ParseURL("smtp://" + srv.Addr + "?security=starttls")
	if err != nil {
		fmt.Println(err)
		return
	}
	opts, err := acct.Options(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = smtpkit.Dial(context.Background(), acct.Addr(), opts)
	var e *smtpkit.Error
	if errors.As(err, &e) {
		for _, h := range e.Hints {
			fmt.Println("try", config.HintText(h))
		}
	}
	// Output:
	// try security = "implicit-tls"
	// try security = "starttls-if-offered"
}
