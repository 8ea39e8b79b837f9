package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/proxy"
)

// kind is the type of a key's value.
type kind uint8

const (
	kString   kind = iota
	kInt           // an integer
	kBool          // true or false
	kDuration      // a Go duration string, such as "30s"
	kList          // a list of strings; a comma-separated string outside TOML
)

// keyInfo describes one key of the TOML format (and of Set, the environment and URLs).
type keyInfo struct {
	field  field
	kind   kind
	secret bool // the value is a password or token: never shown
}

// keys are the settings, by their TOML names.
var keys = map[string]keyInfo{
	"host":                     {fHost, kString, false},
	"port":                     {fPort, kInt, false},
	"from":                     {fFrom, kString, false},
	"security":                 {fSecurity, kString, false},
	"ehlo_name":                {fLocalName, kString, false},
	"connect_timeout":          {fConnectTimeout, kDuration, false},
	"greeting_timeout":         {fGreetingTimeout, kDuration, false},
	"command_timeout":          {fCommandTimeout, kDuration, false},
	"data_timeout":             {fDataTimeout, kDuration, false},
	"timeout":                  {fTimeout, kDuration, false},
	"tls_versions":             {fTLSVersions, kList, false},
	"tls_strict_versions":      {fTLSStrictVersions, kBool, false},
	"tls_ca_file":              {fTLSCAFile, kString, false},
	"tls_cert_file":            {fTLSCertFile, kString, false},
	"tls_key_file":             {fTLSKeyFile, kString, false},
	"tls_fingerprints":         {fTLSFingerprints, kList, false},
	"tls_server_name":          {fTLSServerName, kString, false},
	"tls_insecure_skip_verify": {fTLSInsecureSkipVerify, kBool, false},
	"auth":                     {fAuth, kBool, false},
	"auth_mechanisms":          {fAuthMechanisms, kList, false},
	"allow_cleartext_auth":     {fAllowCleartext, kBool, false},
	"user":                     {fUser, kString, false},
	"password":                 {fPassword, kString, true},
	"password_env":             {fPassword, kString, false},
	"password_command":         {fPassword, kString, true},
	"token":                    {fToken, kString, true},
	"token_env":                {fToken, kString, false},
	"token_command":            {fToken, kString, true},
	"proxy":                    {fProxy, kString, false},
	"proxy_from_environment":   {fProxyFromEnvironment, kBool, false},
	"local_address":            {fLocalAddr, kString, false},
	"queue_on_failure":         {fQueueOnFailure, kBool, false},
}

// keyNames returns the keys, sorted.
func keyNames() []string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// value is a key's value as a source holds it.
type value struct {
	kind kind // kString, kInt, kBool or kList
	s    string
	n    int64
	b    bool
	list []string
}

// describe names the type of v for messages.
func (v value) describe() string {
	switch v.kind {
	case kInt:
		return "an integer"
	case kBool:
		return "a boolean"
	case kList:
		return "a list"
	}
	return "a string"
}

// want describes what a key of kind k takes, for messages.
func (k kind) want() string {
	switch k {
	case kInt:
		return "an integer, such as 587"
	case kBool:
		return "true or false"
	case kDuration:
		return `a duration, such as "30s" or "2m"`
	case kList:
		return `a list of strings, such as ["a", "b"]`
	}
	return "a string"
}

// stringValue turns the text of a flag, environment variable or URL
// parameter into a value of kind k.
func stringValue(k kind, s string) (value, error) {
	switch k {
	case kInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return value{}, fmt.Errorf("%s is not an integer: want a number such as 587", showValue(s))
		}
		return value{kind: kInt, n: n}, nil
	case kBool:
		b, err := parseBool(s)
		if err != nil {
			return value{}, err
		}
		return value{kind: kBool, b: b}, nil
	case kList:
		var list []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		return value{kind: kList, list: list}, nil
	}
	return value{kind: kString, s: s}, nil
}

// parseBool accepts true/false, on/off, yes/no and 1/0, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "on", "yes", "1":
		return true, nil
	case "false", "off", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean: want true or false (on/off and yes/no work too)", showValue(s))
}

// Set sets the setting named by a TOML key, such as "port", from its text as
// a flag or environment variable holds it (lists comma-separated, booleans
// true/false, on/off or yes/no, "auth" also a list of mechanisms) and marks
// it as set, so that Merge takes it even when it is the zero value.
func (a *Account) Set(key, text string) error {
	o := Origin{File: a.DefinedAt.File, Key: key}
	return a.setText(o, key, text)
}

// setText is Set with the origin to record and to name in errors.
func (a *Account) setText(o Origin, key, text string) error {
	fail := func(err error) error { return &Error{Origin: o, Account: a.Name, Err: err} }
	if key == "auth" {
		if _, err := parseBool(text); err != nil {
			key = "auth_mechanisms"
		}
	}
	k, ok := keys[key]
	if !ok {
		return fail(fmt.Errorf("there is no such setting%s; the settings are %s",
			didYouMean(key, keyNames()), strings.Join(keyNames(), ", ")))
	}
	v, err := stringValue(k.kind, text)
	if err != nil {
		return fail(err)
	}
	if err := a.apply(o, key, v); err != nil {
		return fail(err)
	}
	return nil
}

// apply checks v and stores it as key's setting, recorded as read at o. Its
// errors say what is wrong with the value; the caller adds where.
func (a *Account) apply(o Origin, key string, v value) error {
	k, ok := keys[key]
	if !ok {
		return fmt.Errorf("there is no such setting%s", didYouMean(key, keyNames()))
	}
	want := k.kind
	if want == kDuration {
		want = kString
	}
	if v.kind == kString && want == kList { // a single item
		v = value{kind: kList, list: []string{v.s}}
	}
	if v.kind != want {
		return fmt.Errorf("want %s, not %s", k.kind.want(), v.describe())
	}
	if !k.secret && (strings.ContainsAny(v.s, "\r\n") || slices.ContainsFunc(v.list, func(s string) bool {
		return strings.ContainsAny(s, "\r\n")
	})) {
		// Not shown: a value over several lines may have swallowed other lines, a password's among them.
		return errors.New("the value holds a line break: write it on one line")
	}
	if err := a.store(key, k, v); err != nil {
		return err
	}
	switch k.field {
	case fPassword:
		a.Password.at, a.Password.account = o, a.Name
	case fToken:
		a.Token.at, a.Token.account = o, a.Name
	}
	a.mark(k.field, o)
	return nil
}

// store does apply's work for one key.
func (a *Account) store(key string, k keyInfo, v value) error {
	s := strings.TrimSpace(v.s)
	switch k.field {
	case fHost:
		h, err := checkHost(s)
		if err != nil {
			return err
		}
		a.Host = h
	case fPort:
		if v.n < 1 || v.n > 65535 {
			return fmt.Errorf("the port %d is out of range: want a number from 1 to 65535, "+
				"or leave the port out for the default (465 for implicit-tls, 587 otherwise)", v.n)
		}
		a.Port = int(v.n)
	case fFrom:
		if err := checkText(s, false); err != nil {
			return err
		}
		a.From = s
	case fSecurity:
		sec, err := smtpkit.ParseSecurity(s)
		if err != nil {
			return err
		}
		a.Security = sec
	case fLocalName:
		if err := checkText(s, true); err != nil {
			return err
		}
		a.LocalName = s
	case fConnectTimeout, fGreetingTimeout, fCommandTimeout, fDataTimeout, fTimeout:
		d, err := smtpkit.ParseTimeout(s)
		if err != nil {
			return err
		}
		switch k.field {
		case fConnectTimeout:
			a.ConnectTimeout = d
		case fGreetingTimeout:
			a.GreetingTimeout = d
		case fCommandTimeout:
			a.CommandTimeout = d
		case fDataTimeout:
			a.DataTimeout = d
		default:
			a.Timeout = d
		}
	case fTLSVersions:
		versions, err := smtpkit.ParseTLSVersions(strings.Join(v.list, ","))
		if err != nil {
			return err
		}
		a.TLS.Versions = versions
	case fTLSStrictVersions:
		a.TLS.StrictVersions = v.b
	case fTLSCAFile:
		a.TLS.CAFile = expandHome(s)
	case fTLSCertFile:
		a.TLS.CertFile = expandHome(s)
	case fTLSKeyFile:
		a.TLS.KeyFile = expandHome(s)
	case fTLSFingerprints:
		var fps []string
		for _, fp := range v.list {
			if _, err := smtpkit.ParseFingerprint(fp); err != nil {
				return err
			}
			fps = append(fps, strings.TrimSpace(fp))
		}
		a.TLS.Fingerprints = fps
	case fTLSServerName:
		if err := checkText(s, true); err != nil {
			return err
		}
		a.TLSServerName = s
	case fTLSInsecureSkipVerify:
		a.TLSInsecureSkipVerify = v.b
	case fAuth:
		a.Auth = AuthOff
		if v.b {
			a.Auth = AuthOn
		}
	case fAuthMechanisms:
		mechs, err := smtpkit.CheckMechanisms(v.list)
		if err != nil {
			return err
		}
		a.AuthMechanisms = mechs
	case fAllowCleartext:
		a.AllowCleartext = v.b
	case fUser:
		if err := checkText(v.s, false); err != nil {
			return err
		}
		a.User = v.s
	case fPassword, fToken:
		sec, err := secretFor(key, v.s)
		if err != nil {
			return err
		}
		if k.field == fPassword {
			a.Password = sec
		} else {
			a.Token = sec
		}
	case fProxy:
		if s != "" {
			if _, err := proxy.Parse(s, nil); err != nil {
				return fmt.Errorf("%w; write a URL such as socks5h://proxy.example:1080", err)
			}
		}
		a.Proxy = s
	case fProxyFromEnvironment:
		a.ProxyFromEnvironment = v.b
	case fLocalAddr:
		if _, err := smtpkit.ParseLocalAddr(s); err != nil {
			return err
		}
		a.LocalAddr = s
	case fQueueOnFailure:
		a.QueueOnFailure = v.b
	}
	return nil
}

// secretFor makes the Secret that key (password, password_env, ...) describes.
func secretFor(key, s string) (Secret, error) {
	switch {
	case s == "":
		return Secret{}, nil
	case strings.HasSuffix(key, "_env"):
		name := strings.TrimSpace(s)
		if strings.ContainsAny(name, "=\x00 ") {
			return Secret{}, fmt.Errorf("%s is not an environment variable's name", showValue(name))
		}
		return SecretFromEnv(name), nil
	case strings.HasSuffix(key, "_command"):
		if strings.TrimSpace(s) == "" {
			return Secret{}, nil
		}
		return SecretFromCommand(s), nil
	}
	return SecretValue(s), nil
}

// checkHost checks a host name or IP address and removes the brackets of an IPv6 literal.
func checkHost(h string) (string, error) {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	switch {
	case h == "":
		return "", errors.New("the host is empty: want a name such as smtp.example.com")
	case strings.ContainsAny(h, " \t\r\n\x00/@"):
		return "", fmt.Errorf("%s is not a host name: it holds a space, slash, @ or control character "+
			"(a comment must be on a line of its own)", showValue(h))
	case strings.Contains(h, ":") && net.ParseIP(h) == nil:
		return "", fmt.Errorf("%s is not a host name: put the port in its own setting", showValue(h))
	}
	return h, nil
}

// checkText refuses line breaks and NUL, and spaces too when noSpace is set.
func checkText(s string, noSpace bool) error {
	bad := "\r\n\x00"
	if noSpace {
		bad += " \t"
	}
	if strings.ContainsAny(s, bad) {
		if noSpace {
			return fmt.Errorf("%s holds a space, line break or NUL, which cannot be sent", showValue(s))
		}
		return fmt.Errorf("%s holds a line break or NUL, which cannot be sent", showValue(s))
	}
	return nil
}

// versionList names versions as smtpkit.ParseTLSVersions reads them back.
func versionList(vs []uint16) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = smtpkit.TLSVersionName(v)
	}
	return strings.Join(names, ",")
}

// expandHome replaces a leading "~/" with the home directory, as msmtp does.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}
