package config_test

import (
	"fmt"

	"github.com/smtpkit/smtpkit/config"
)

// Example layers a file's account and a command-line flag, the flag winning.
func Example() {
	file, err := config.ParseTOML("smtpkit.toml", []byte(`
[defaults]
security = "starttls"

[accounts.work]
host = "smtp.example.com"
user = "alice"
password_env = "WORK_PASSWORD"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	acct, err := file.Account("")
	if err != nil {
		fmt.Println(err)
		return
	}
	flags := &config.Account{DefinedAt: config.Origin{File: "command line"}}
	if err := flags.Set("port", "2525"); err != nil {
		fmt.Println(err)
		return
	}
	final := config.Merge(acct, flags)
	fmt.Println(final.Addr())
	fmt.Println(final)
	where, _ := final.Origin("security")
	fmt.Println(where)
	// Output:
	// smtp.example.com:2525
	// account "work": host=smtp.example.com port=2525 security=starttls user=alice password=env:WORK_PASSWORD
	// smtpkit.toml:3: key "security"
}

// ExampleParseMsmtprc shows how msmtp's tls and tls_starttls become a security mode.
func ExampleParseMsmtprc() {
	file, err := config.ParseMsmtprc("msmtprc", []byte(`
defaults
tls on

account submission
host smtp.example.com
port 587

account smtps : submission
tls_starttls off
port 465
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range file.Accounts {
		fmt.Println(a.Name, a.Addr(), a.Security)
	}
	// Output:
	// submission smtp.example.com:587 starttls
	// smtps smtp.example.com:465 implicit-tls
}
