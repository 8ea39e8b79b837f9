package config

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/sasl"
)

// Addr returns the server's address as host:port, with smtpkit.Dial's
// default port when Port is 0: 465 for SecurityImplicitTLS, else 587.
func (a *Account) Addr() string {
	port := a.Port
	if port == 0 {
		port = 587
		if a.Security == smtpkit.SecurityImplicitTLS {
			port = 465
		}
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(port))
}

// LogsIn reports whether the account logs in: Auth is AuthOn, or AuthAuto with a user, password or token set.
func (a *Account) LogsIn() bool {
	switch a.Auth {
	case AuthOn:
		return true
	case AuthAuto:
		return a.User != "" || !a.Password.IsZero() || !a.Token.IsZero()
	}
	return false
}

// Check reports, without reading any secret, what keeps the account from
// being used (no host, a certificate without its key, credentials that
// cannot log in) in *Error values naming the file, line and key. The
// settings are checked by smtpkit's own Options.Validate, so a value means
// here what it means to the library; its hints are worded as keys.
func (a *Account) Check() error {
	var errs errorList
	fail := func(f field, key, msg string) {
		o := a.origin(f)
		o.Key = key
		errs.addErr(&Error{Origin: o, Account: a.Name, Err: errors.New(msg)})
	}
	if a.Host == "" {
		fail(fHost, "host", "no host is set: name the server, such as host = \"smtp.example.com\"")
	}
	if a.Port < 0 || a.Port > 65535 {
		fail(fPort, "port", "the port "+strconv.Itoa(a.Port)+" is out of range: want 1 to 65535, or 0 for the default")
	}
	o := a.options()
	if a.LogsIn() {
		// Stand-ins: whether a secret is set is what matters here, not its value.
		o.Auth = &smtpkit.Auth{Username: a.User, Mechanisms: a.AuthMechanisms, AllowCleartext: a.AllowCleartext}
		if !a.Password.IsZero() {
			o.Auth.Password = "set"
		}
		if !a.Token.IsZero() {
			o.Auth.Token = "set"
		}
	}
	var list interface{ Unwrap() []error }
	optErrs := []error{o.Validate()}
	if errors.As(optErrs[0], &list) {
		optErrs = list.Unwrap()
	}
	for _, err := range optErrs {
		var oe *smtpkit.OptionError
		if !errors.As(err, &oe) {
			continue
		}
		f, key := fieldOf(oe.Field)
		origin := a.origin(a.firstSet(f, related[f]...))
		origin.Key = key
		errs.addErr(&Error{Origin: origin, Account: a.Name, Err: keyWorded{oe}})
	}
	if a.LogsIn() && a.Token.IsZero() && onlyTokenMechanisms(a.AuthMechanisms) && !a.Password.IsZero() {
		fail(fAuthMechanisms, "token_command", "auth_mechanisms allows only "+strings.Join(a.AuthMechanisms, " and ")+
			", which need an OAuth 2 token: set token_command or token_env")
	}
	return errs.err()
}

// keyWorded is an *smtpkit.OptionError worded with keys; errors.As still
// finds the OptionError, so a front end may word it its own way.
type keyWorded struct{ *smtpkit.OptionError }

func (k keyWorded) Error() string { return describe(k.OptionError) }
func (k keyWorded) Unwrap() error { return k.OptionError }

// describe words an *smtpkit.OptionError for a configuration file: what
// is wrong with the value, and the hints as keys.
func describe(oe *smtpkit.OptionError) string {
	text := oe.Err.Error()
	switch oe.Field {
	case "TLS.KeyFile":
		text = "a client certificate (tls_cert_file) is set without its key: set tls_key_file too"
	case "TLS.CertFile":
		if strings.Contains(text, "without its certificate") {
			text = "a client key (tls_key_file) is set without its certificate: set tls_cert_file too"
		}
	case "Auth.Password":
		text = "the account logs in but no password is set: set password_command, password_env " +
			"or password (or the environment variable SMTPKIT_PASSWORD), or turn auth off"
	case "Auth.Username":
		text = "a password or token is set but no user: set user"
	}
	for i, h := range oe.Hints {
		if i == 0 {
			text += " (try "
		} else {
			text += ", or "
		}
		text += HintText(h)
	}
	if len(oe.Hints) > 0 {
		text += ")"
	}
	return text
}

// related lists, for a setting found missing, the settings that made it
// needed: the error points at the first of them that was set.
var related = map[field][]field{
	fTLSKeyFile:  {fTLSCertFile},
	fTLSCertFile: {fTLSKeyFile},
	fPassword:    {fUser, fAuth},
	fUser:        {fPassword, fToken},
}

// firstSet returns f when it was set, else the first of others that was, else f.
func (a *Account) firstSet(f field, others ...field) field {
	if f == numFields || a.set.has(f) {
		return f
	}
	for _, o := range others {
		if a.set.has(o) {
			return o
		}
	}
	return f
}

// optionFields maps the fields of smtpkit.Options to the account's settings.
var optionFields = map[string]field{
	"Security": fSecurity, "LocalName": fLocalName,
	"ConnectTimeout": fConnectTimeout, "GreetingTimeout": fGreetingTimeout, "CommandTimeout": fCommandTimeout,
	"DataTimeout": fDataTimeout, "Timeout": fTimeout,
	"TLS.Versions": fTLSVersions, "TLS.StrictVersions": fTLSStrictVersions, "TLS.CAFile": fTLSCAFile,
	"TLS.CertFile": fTLSCertFile, "TLS.KeyFile": fTLSKeyFile, "TLS.Fingerprints": fTLSFingerprints,
	"TLSConfig.ServerName": fTLSServerName, "TLSConfig.InsecureSkipVerify": fTLSInsecureSkipVerify,
	"Auth": fAuth, "Auth.Username": fUser, "Auth.Password": fPassword, "Auth.Token": fToken,
	"Auth.Mechanisms": fAuthMechanisms, "Auth.AllowCleartext": fAllowCleartext,
	"Proxy": fProxy, "ProxyFromEnvironment": fProxyFromEnvironment, "LocalAddr": fLocalAddr,
}

// fieldOf returns the setting and key of a field of smtpkit.Options, such
// as "TLS.Fingerprints[1]"; a field no key holds gives fHost's origin and "".
func fieldOf(optionField string) (field, string) {
	name, _, _ := strings.Cut(optionField, "[")
	f, ok := optionFields[name]
	if !ok {
		return numFields, ""
	}
	return f, fields[f].key
}

// HintText words a hint of smtpkit as a setting of the TOML format, such
// as `security = "implicit-tls"` or `allow_cleartext_auth = true`.
func HintText(h smtpkit.Hint) string {
	f, key := fieldOf(h.Field)
	if f == numFields {
		return h.String()
	}
	switch v := h.Value.(type) {
	case nil:
		return "a larger " + key
	case smtpkit.Security:
		return key + " = " + strconv.Quote(v.String())
	case string:
		return key + " = " + strconv.Quote(v)
	case time.Duration:
		return key + " = " + strconv.Quote(v.String())
	}
	return fmt.Sprintf("%s = %v", key, h.Value)
}

// onlyTokenMechanisms reports whether mechs names only the OAuth 2 mechanisms.
func onlyTokenMechanisms(mechs []string) bool {
	for _, m := range mechs {
		if m != sasl.XOAUTH2 && m != sasl.OAUTHBEARER {
			return false
		}
	}
	return len(mechs) > 0
}

// Options checks the account and returns its smtpkit.Options, resolving the
// password and token into Options.Auth (bounded by ctx) only when the
// account logs in, and leaving Dialer, Logger and the other fields no file
// holds to the caller.
func (a *Account) Options(ctx context.Context) (*smtpkit.Options, error) {
	if err := a.Check(); err != nil {
		return nil, err
	}
	o := a.options()
	if !a.LogsIn() {
		return o, nil
	}
	password, err := a.Password.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	token, err := a.Token.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	o.Auth = &smtpkit.Auth{
		Username:       a.User,
		Password:       password,
		Token:          token,
		Mechanisms:     slices.Clone(a.AuthMechanisms),
		AllowCleartext: a.AllowCleartext,
	}
	return o, nil
}

// options returns the account's Options without credentials.
func (a *Account) options() *smtpkit.Options {
	o := &smtpkit.Options{
		Security:             a.Security,
		LocalName:            a.LocalName,
		ConnectTimeout:       a.ConnectTimeout,
		GreetingTimeout:      a.GreetingTimeout,
		CommandTimeout:       a.CommandTimeout,
		DataTimeout:          a.DataTimeout,
		Timeout:              a.Timeout,
		TLS:                  a.TLS,
		Proxy:                a.Proxy,
		ProxyFromEnvironment: a.ProxyFromEnvironment,
		LocalAddr:            a.LocalAddr,
	}
	o.TLS.Versions = slices.Clone(a.TLS.Versions)
	o.TLS.Fingerprints = slices.Clone(a.TLS.Fingerprints)
	if a.TLSServerName != "" || a.TLSInsecureSkipVerify {
		o.TLSConfig = &tls.Config{ServerName: a.TLSServerName, InsecureSkipVerify: a.TLSInsecureSkipVerify}
	}
	return o
}
