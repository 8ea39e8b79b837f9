package config

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"

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
// cannot log in) in *Error values naming the file, line and key.
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
	if a.Security < smtpkit.SecurityTLSAuto || a.Security > smtpkit.SecurityNone {
		fail(fSecurity, "security", "the security mode "+strconv.Itoa(int(a.Security))+" is unknown")
	}
	switch {
	case a.TLS.CertFile != "" && a.TLS.KeyFile == "":
		fail(fTLSCertFile, "tls_key_file", "a client certificate (tls_cert_file) is set without its key: set tls_key_file too")
	case a.TLS.KeyFile != "" && a.TLS.CertFile == "":
		fail(fTLSKeyFile, "tls_cert_file", "a client key (tls_key_file) is set without its certificate: set tls_cert_file too")
	}
	if a.LogsIn() && !explicitOnly(a.AuthMechanisms) {
		switch {
		case a.Password.IsZero() && a.Token.IsZero():
			f := fUser
			if !a.set.has(fUser) {
				f = fAuth
			}
			fail(f, "password", "the account logs in but no password is set: set password_command, password_env "+
				"or password (or the environment variable SMTPKIT_PASSWORD), or turn auth off")
		case a.User == "":
			f := fPassword
			if a.Password.IsZero() {
				f = fToken
			}
			fail(f, "user", "a password or token is set but no user: set user")
		case a.Token.IsZero() && onlyTokenMechanisms(a.AuthMechanisms):
			fail(fAuthMechanisms, "token_command", "auth_mechanisms allows only "+strings.Join(a.AuthMechanisms, " and ")+
				", which need an OAuth 2 token: set token_command or token_env")
		}
	}
	return errs.err()
}

// explicitOnly reports whether mechs names only mechanisms that need no password.
func explicitOnly(mechs []string) bool {
	for _, m := range mechs {
		if m != sasl.External && m != sasl.Anonymous {
			return false
		}
	}
	return len(mechs) > 0
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
