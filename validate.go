package smtpkit

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/proxy"
)

// Validate reports every invalid setting of o, each as an *OptionError
// (joined with errors.Join when there are several), without connecting or
// reading a file; nil means a Dialer will take o. errors.Is(err,
// ErrInvalidOptions) matches any of them. A nil o is the zero Options,
// which is valid.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	var errs []error
	bad := func(field, value string, err error, hints ...Hint) {
		errs = append(errs, &OptionError{Field: field, Value: value, Err: err, Hints: hints})
	}
	if o.Security < SecurityTLSAuto || o.Security > SecurityNone {
		bad("Security", strconv.Itoa(int(o.Security)), fmt.Errorf("no such mode: want one of %s",
			strings.Join(securityNames[:], ", ")))
	}
	for _, l := range []struct {
		name string
		d    time.Duration
	}{
		{"ConnectTimeout", o.ConnectTimeout}, {"GreetingTimeout", o.GreetingTimeout},
		{"CommandTimeout", o.CommandTimeout}, {"DataTimeout", o.DataTimeout}, {"Timeout", o.Timeout},
	} {
		if l.d < 0 {
			bad(l.name, l.d.String(), errors.New("a time limit cannot be negative: use zero for the default"))
		}
	}
	if strings.ContainsAny(o.LocalName, "\r\n\x00 \t") {
		bad("LocalName", o.LocalName, fmt.Errorf("%w: the EHLO name holds a space, CR, LF or NUL", ErrInvalidArgument))
	}
	if _, err := ParseLocalAddr(o.LocalAddr); err != nil {
		bad("LocalAddr", o.LocalAddr, err)
	}
	if o.Dialer != nil && (o.LocalAddr != "" || o.BindLocal != nil) {
		bad("Dialer", "", errors.New("LocalAddr and BindLocal choose the local address of smtpkit's own dialer, "+
			"and Dialer replaces that dialer: set the local address in your Dialer, or leave Dialer nil"))
	}
	if o.Proxy != "" {
		if _, err := proxy.Parse(o.Proxy, nil); err != nil { // its errors never hold the password
			bad("Proxy", "", err)
		}
	}
	errs = append(errs, o.TLS.validate(o)...)
	if o.Auth != nil {
		errs = append(errs, o.Auth.validate()...)
	}
	return errors.Join(errs...)
}

// validate checks the TLS options, alone and against TLSConfig.
func (t *TLSOptions) validate(o *Options) []error {
	var errs []error
	bad := func(field, value string, err error, hints ...Hint) {
		errs = append(errs, &OptionError{Field: field, Value: value, Err: err, Hints: hints})
	}
	if _, _, err := t.versions(); err != nil {
		var hints []Hint
		if t.StrictVersions {
			hints = []Hint{{Field: "TLS.StrictVersions", Value: false}}
		}
		bad("TLS.Versions", versionList(t.Versions), err, hints...)
	}
	for i, fp := range t.Fingerprints {
		if _, err := ParseFingerprint(fp); err != nil {
			bad(fmt.Sprintf("TLS.Fingerprints[%d]", i), fp, err)
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		bad("TLS.KeyFile", "", errors.New("a client certificate is set without its private key: set both, or neither"))
	case t.KeyFile != "" && t.CertFile == "":
		bad("TLS.CertFile", "", errors.New("a client key is set without its certificate: set both, or neither"))
	}
	if c := o.TLSConfig; c != nil {
		both := func(field, other string) {
			bad(field, "", fmt.Errorf("set here and in TLSConfig.%s: set it in one place only", other))
		}
		if len(t.Versions) > 0 && (c.MinVersion != 0 || c.MaxVersion != 0) {
			both("TLS.Versions", "MinVersion and MaxVersion")
		}
		if t.CAFile != "" && c.RootCAs != nil {
			both("TLS.CAFile", "RootCAs")
		}
		if t.CertFile != "" && (len(c.Certificates) > 0 || c.GetClientCertificate != nil) {
			both("TLS.CertFile", "Certificates")
		}
		if t.NoSessionResumption && c.ClientSessionCache != nil {
			both("TLS.NoSessionResumption", "ClientSessionCache")
		}
	}
	return errs
}

// validate refuses credentials that no mechanism could use and names that
// are not mechanisms, before anything is sent.
func (a *Auth) validate() []error {
	var errs []error
	if a.Client != nil {
		return nil // the caller's mechanism: its rules are the caller's
	}
	for i, m := range a.Mechanisms {
		if _, err := CheckMechanisms([]string{m}); err != nil {
			errs = append(errs, &OptionError{Field: fmt.Sprintf("Auth.Mechanisms[%d]", i), Value: m, Err: err})
		}
	}
	onlyExplicit := len(a.Mechanisms) > 0
	for _, m := range a.Mechanisms {
		onlyExplicit = onlyExplicit && explicitOnly[strings.ToUpper(strings.TrimSpace(m))]
	}
	switch {
	case onlyExplicit:
	case a.Password == "" && a.Token == "":
		errs = append(errs, &OptionError{Field: "Auth.Password", Err: errors.New(
			"neither a password nor a token is set: set Password, or Token for XOAUTH2 and OAUTHBEARER")})
	case a.Username == "":
		errs = append(errs, &OptionError{Field: "Auth.Username", Err: errors.New("a password or token is set but no user name")})
	}
	return errs
}

// withDefaults returns a copy of o with zero limits replaced by their
// defaults, once Validate has taken it.
func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	for _, l := range []struct {
		d   *time.Duration
		def time.Duration
	}{
		{&c.ConnectTimeout, DefaultConnectTimeout},
		{&c.GreetingTimeout, DefaultGreetingTimeout},
		{&c.CommandTimeout, DefaultCommandTimeout},
		{&c.DataTimeout, DefaultDataTimeout},
	} {
		if *l.d == 0 {
			*l.d = l.def
		}
	}
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{}
	}
	return c, nil
}

// versionList names versions as ParseTLSVersions reads them back.
func versionList(vs []uint16) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = TLSVersionName(v)
	}
	return strings.Join(names, ",")
}
