package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
)

// AuthMode says whether an account logs in.
type AuthMode int

const (
	// AuthAuto logs in when a user, password or token is set.
	AuthAuto AuthMode = iota
	// AuthOn always logs in; the credentials must be complete.
	AuthOn
	// AuthOff never logs in, whatever credentials are set.
	AuthOff
)

// String returns "auto", "on" or "off".
func (m AuthMode) String() string {
	switch m {
	case AuthAuto:
		return "auto"
	case AuthOn:
		return "on"
	case AuthOff:
		return "off"
	}
	return "AuthMode(" + strconv.Itoa(int(m)) + ")"
}

// Account is one named set of settings for reaching a server (where it is,
// how to protect the connection, how to log in) that remembers which
// settings were set and where, and never prints its password or token.
type Account struct {
	// Name is the account's name in its file; "" for one made from a URL or
	// the environment.
	Name string
	// DefinedAt is where the account is defined: its file and line.
	DefinedAt Origin

	// Host is the server's host name or IP address.
	Host string
	// Port is the server's port; 0 means 465 for SecurityImplicitTLS and 587 otherwise.
	Port int
	// From is the envelope sender address.
	From string

	// Security is how the connection is protected.
	Security smtpkit.Security
	// LocalName is the name sent with EHLO; empty means smtpkit's default.
	LocalName string

	// ConnectTimeout, GreetingTimeout, CommandTimeout, DataTimeout and
	// Timeout are smtpkit.Options' time limits; zero means the default.
	ConnectTimeout, GreetingTimeout, CommandTimeout, DataTimeout, Timeout time.Duration

	// TLS is the TLS policy: versions, CA file, client certificate, pins.
	TLS smtpkit.TLSOptions
	// TLSServerName is the name the server's certificate must be valid
	// for; empty means the host. It becomes Options.TLSConfig.ServerName.
	TLSServerName string
	// TLSInsecureSkipVerify turns certificate verification off (pins are
	// still checked). It becomes Options.TLSConfig.InsecureSkipVerify.
	TLSInsecureSkipVerify bool

	// Auth says whether to log in.
	Auth AuthMode
	// User is the login name.
	User string
	// Password is where the password comes from.
	Password Secret
	// Token is where the OAuth 2 token for XOAUTH2 and OAUTHBEARER comes from.
	Token Secret
	// AuthMechanisms lists the SASL mechanisms allowed; empty allows all that fit.
	AuthMechanisms []string
	// AllowCleartext allows sending the password or token without TLS.
	AllowCleartext bool

	// Proxy is the URL of the proxy to connect through; see smtpkit.Options.Proxy.
	Proxy string
	// ProxyFromEnvironment takes the proxy from ALL_PROXY and NO_PROXY.
	ProxyFromEnvironment bool
	// LocalAddr is the local address to connect from.
	LocalAddr string

	// QueueOnFailure asks a front end that sends mail, such as the command
	// line's send and sendmail, to keep a message in a durable queue
	// (package outbox) when the server cannot take it now: a 4xx reply, a
	// failed connection, a time limit. It says nothing to smtpkit.Options.
	QueueOnFailure bool

	set   fieldSet         // the fields set by a loader, Set or FromEnvironment
	where map[field]Origin // where each set field was read
}

// field names one setting of an Account, for the set mask.
type field uint8

const (
	fHost field = iota
	fPort
	fFrom
	fSecurity
	fLocalName
	fConnectTimeout
	fGreetingTimeout
	fCommandTimeout
	fDataTimeout
	fTimeout
	fTLSVersions
	fTLSStrictVersions
	fTLSCAFile
	fTLSCertFile
	fTLSKeyFile
	fTLSFingerprints
	fTLSServerName
	fTLSInsecureSkipVerify
	fAuth
	fUser
	fPassword
	fToken
	fAuthMechanisms
	fAllowCleartext
	fProxy
	fProxyFromEnvironment
	fLocalAddr
	fQueueOnFailure
	numFields
)

// fieldSet is a set of fields.
type fieldSet uint32

func (s fieldSet) has(f field) bool { return s&(1<<f) != 0 }

// fieldInfo tells how to name, test and copy one field.
type fieldInfo struct {
	key  string // the canonical key, as in the TOML format
	zero func(a *Account) bool
	copy func(dst, src *Account)
	show func(a *Account) string // the value for String; never a secret
}

var fields = [numFields]fieldInfo{
	fHost: {"host", func(a *Account) bool { return a.Host == "" },
		func(d, s *Account) { d.Host = s.Host }, func(a *Account) string { return a.Host }},
	fPort: {"port", func(a *Account) bool { return a.Port == 0 },
		func(d, s *Account) { d.Port = s.Port }, func(a *Account) string { return strconv.Itoa(a.Port) }},
	fFrom: {"from", func(a *Account) bool { return a.From == "" },
		func(d, s *Account) { d.From = s.From }, func(a *Account) string { return a.From }},
	fSecurity: {"security", func(a *Account) bool { return a.Security == smtpkit.SecurityTLSAuto },
		func(d, s *Account) { d.Security = s.Security }, func(a *Account) string { return a.Security.String() }},
	fLocalName: {"ehlo_name", func(a *Account) bool { return a.LocalName == "" },
		func(d, s *Account) { d.LocalName = s.LocalName }, func(a *Account) string { return a.LocalName }},
	fConnectTimeout: {"connect_timeout", func(a *Account) bool { return a.ConnectTimeout == 0 },
		func(d, s *Account) { d.ConnectTimeout = s.ConnectTimeout }, func(a *Account) string { return a.ConnectTimeout.String() }},
	fGreetingTimeout: {"greeting_timeout", func(a *Account) bool { return a.GreetingTimeout == 0 },
		func(d, s *Account) { d.GreetingTimeout = s.GreetingTimeout }, func(a *Account) string { return a.GreetingTimeout.String() }},
	fCommandTimeout: {"command_timeout", func(a *Account) bool { return a.CommandTimeout == 0 },
		func(d, s *Account) { d.CommandTimeout = s.CommandTimeout }, func(a *Account) string { return a.CommandTimeout.String() }},
	fDataTimeout: {"data_timeout", func(a *Account) bool { return a.DataTimeout == 0 },
		func(d, s *Account) { d.DataTimeout = s.DataTimeout }, func(a *Account) string { return a.DataTimeout.String() }},
	fTimeout: {"timeout", func(a *Account) bool { return a.Timeout == 0 },
		func(d, s *Account) { d.Timeout = s.Timeout }, func(a *Account) string { return a.Timeout.String() }},
	fTLSVersions: {"tls_versions", func(a *Account) bool { return len(a.TLS.Versions) == 0 },
		func(d, s *Account) { d.TLS.Versions = slices.Clone(s.TLS.Versions) }, func(a *Account) string { return versionList(a.TLS.Versions) }},
	fTLSStrictVersions: {"tls_strict_versions", func(a *Account) bool { return !a.TLS.StrictVersions },
		func(d, s *Account) { d.TLS.StrictVersions = s.TLS.StrictVersions }, func(a *Account) string { return strconv.FormatBool(a.TLS.StrictVersions) }},
	fTLSCAFile: {"tls_ca_file", func(a *Account) bool { return a.TLS.CAFile == "" },
		func(d, s *Account) { d.TLS.CAFile = s.TLS.CAFile }, func(a *Account) string { return a.TLS.CAFile }},
	fTLSCertFile: {"tls_cert_file", func(a *Account) bool { return a.TLS.CertFile == "" },
		func(d, s *Account) { d.TLS.CertFile = s.TLS.CertFile }, func(a *Account) string { return a.TLS.CertFile }},
	fTLSKeyFile: {"tls_key_file", func(a *Account) bool { return a.TLS.KeyFile == "" },
		func(d, s *Account) { d.TLS.KeyFile = s.TLS.KeyFile }, func(a *Account) string { return a.TLS.KeyFile }},
	fTLSFingerprints: {"tls_fingerprints", func(a *Account) bool { return len(a.TLS.Fingerprints) == 0 },
		func(d, s *Account) { d.TLS.Fingerprints = slices.Clone(s.TLS.Fingerprints) }, func(a *Account) string { return strings.Join(a.TLS.Fingerprints, ",") }},
	fTLSServerName: {"tls_server_name", func(a *Account) bool { return a.TLSServerName == "" },
		func(d, s *Account) { d.TLSServerName = s.TLSServerName }, func(a *Account) string { return a.TLSServerName }},
	fTLSInsecureSkipVerify: {"tls_insecure_skip_verify", func(a *Account) bool { return !a.TLSInsecureSkipVerify },
		func(d, s *Account) { d.TLSInsecureSkipVerify = s.TLSInsecureSkipVerify }, func(a *Account) string { return strconv.FormatBool(a.TLSInsecureSkipVerify) }},
	fAuth: {"auth", func(a *Account) bool { return a.Auth == AuthAuto },
		func(d, s *Account) { d.Auth = s.Auth }, func(a *Account) string { return a.Auth.String() }},
	fUser: {"user", func(a *Account) bool { return a.User == "" },
		func(d, s *Account) { d.User = s.User }, func(a *Account) string { return a.User }},
	fPassword: {"password", func(a *Account) bool { return a.Password.IsZero() },
		func(d, s *Account) { d.Password = s.Password }, func(a *Account) string { return a.Password.String() }},
	fToken: {"token", func(a *Account) bool { return a.Token.IsZero() },
		func(d, s *Account) { d.Token = s.Token }, func(a *Account) string { return a.Token.String() }},
	fAuthMechanisms: {"auth_mechanisms", func(a *Account) bool { return len(a.AuthMechanisms) == 0 },
		func(d, s *Account) { d.AuthMechanisms = slices.Clone(s.AuthMechanisms) }, func(a *Account) string { return strings.Join(a.AuthMechanisms, ",") }},
	fAllowCleartext: {"allow_cleartext_auth", func(a *Account) bool { return !a.AllowCleartext },
		func(d, s *Account) { d.AllowCleartext = s.AllowCleartext }, func(a *Account) string { return strconv.FormatBool(a.AllowCleartext) }},
	fProxy: {"proxy", func(a *Account) bool { return a.Proxy == "" },
		func(d, s *Account) { d.Proxy = s.Proxy }, func(a *Account) string { return redactURL(a.Proxy) }},
	fProxyFromEnvironment: {"proxy_from_environment", func(a *Account) bool { return !a.ProxyFromEnvironment },
		func(d, s *Account) { d.ProxyFromEnvironment = s.ProxyFromEnvironment }, func(a *Account) string { return strconv.FormatBool(a.ProxyFromEnvironment) }},
	fLocalAddr: {"local_address", func(a *Account) bool { return a.LocalAddr == "" },
		func(d, s *Account) { d.LocalAddr = s.LocalAddr }, func(a *Account) string { return a.LocalAddr }},
	fQueueOnFailure: {"queue_on_failure", func(a *Account) bool { return !a.QueueOnFailure },
		func(d, s *Account) { d.QueueOnFailure = s.QueueOnFailure }, func(a *Account) string { return strconv.FormatBool(a.QueueOnFailure) }},
}

// counts reports whether field f of a is to be taken by a layer above: it
// was set by a loader or Set, or it holds something other than its zero value.
func (a *Account) counts(f field) bool {
	return a.set.has(f) || !fields[f].zero(a)
}

// mark records that field f was set at o.
func (a *Account) mark(f field, o Origin) {
	a.set |= 1 << f
	if a.where == nil {
		a.where = map[field]Origin{}
	}
	a.where[f] = o
}

// origin returns where field f was set, or where the account is defined.
func (a *Account) origin(f field) Origin {
	if o, ok := a.where[f]; ok {
		return o
	}
	o := a.DefinedAt
	o.Key = ""
	return o
}

// IsSet reports whether the setting named by a TOML key, such as "port", was set by a loader, Set or FromEnvironment.
func (a *Account) IsSet(key string) bool {
	k, ok := keys[key]
	return ok && a.set.has(k.field)
}

// Origin returns where the setting named by key was read, and whether it was.
func (a *Account) Origin(key string) (Origin, bool) {
	k, ok := keys[key]
	if !ok {
		return Origin{}, false
	}
	o, ok := a.where[k.field]
	return o, ok
}

// overlay copies into a every field that over has set or holds a non-zero value in.
func (a *Account) overlay(over *Account) {
	for f := range numFields {
		if !over.counts(f) {
			continue
		}
		fields[f].copy(a, over)
		a.set |= 1 << f
		if o, ok := over.where[f]; ok {
			if a.where == nil {
				a.where = map[field]Origin{}
			}
			a.where[f] = o
		} else {
			delete(a.where, f)
		}
	}
}

// Clone returns a deep copy of a.
func (a *Account) Clone() *Account {
	c := *a
	c.TLS.Versions = slices.Clone(a.TLS.Versions)
	c.TLS.Fingerprints = slices.Clone(a.TLS.Fingerprints)
	c.AuthMechanisms = slices.Clone(a.AuthMechanisms)
	if a.where != nil {
		c.where = make(map[field]Origin, len(a.where))
		for f, o := range a.where {
			c.where[f] = o
		}
	}
	return &c
}

// Merge returns a new Account made of layers, lowest first (the file's
// account, then the environment's, then the flags'), each field taken from
// the highest layer that set it or holds a non-zero value in it, and the
// name from the lowest; nil layers are skipped.
func Merge(layers ...*Account) *Account {
	var out *Account
	for _, l := range layers {
		switch {
		case l == nil:
		case out == nil:
			out = l.Clone()
		default:
			out.overlay(l)
		}
	}
	if out == nil {
		out = &Account{}
	}
	return out
}

// String describes the account on one line, such as `account "work": host=smtp.example.com port=587 password=<redacted>`.
func (a Account) String() string {
	var b strings.Builder
	if a.Name != "" {
		b.WriteString("account " + strconv.Quote(a.Name) + ":")
	} else {
		b.WriteString("account:")
	}
	for f := range numFields {
		if !a.counts(f) {
			continue
		}
		v := fields[f].show(&a)
		if f != fPassword && f != fToken && (v == "" || strings.ContainsAny(v, " \t\"=\\") || !strconv.CanBackquote(v)) {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + fields[f].key + "=" + v)
	}
	return b.String()
}

// GoString describes the account like String, for the %#v verb.
func (a Account) GoString() string {
	return "config.Account{" + a.String() + "}"
}

// Format prints the account as String does (GoString for %#v) whatever the verb, so no verb shows a secret.
func (a Account) Format(f fmt.State, verb rune) {
	s := a.String()
	switch {
	case verb == 'v' && f.Flag('#'):
		s = a.GoString()
	case verb == 'q':
		s = strconv.Quote(s)
	}
	fmt.Fprint(f, s)
}

// LogValue logs the account's settings as a group, the password and token redacted.
func (a Account) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("name", a.Name)}
	for f := range numFields {
		if a.counts(f) {
			attrs = append(attrs, slog.String(fields[f].key, fields[f].show(&a)))
		}
	}
	return slog.GroupValue(attrs...)
}

// redactURL returns u with its password replaced by "xxxxx", or a note when
// it cannot be parsed (it might hold a password in a form url cannot find).
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(an unparsable URL, not shown)"
	}
	return p.Redacted()
}
