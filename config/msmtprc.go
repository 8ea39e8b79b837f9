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
	"github.com/smtpkit/smtpkit/sasl"
)

// DefaultMsmtprcPath returns the user configuration file msmtp reads (the
// first that exists of ~/.msmtprc and $XDG_CONFIG_HOME/msmtp/config, else
// ~/.msmtprc), or "" when the home directory is unknown.
func DefaultMsmtprcPath() string {
	home, _ := os.UserHomeDir()
	rc := ""
	if home != "" {
		rc = filepath.Join(home, ".msmtprc")
		if _, err := os.Stat(rc); err == nil {
			return rc
		}
	}
	xdg := os.Getenv("XDG_CONFIG_HOME")
	if xdg == "" && home != "" {
		xdg = filepath.Join(home, ".config")
	}
	if xdg != "" {
		p := filepath.Join(xdg, "msmtp", "config")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return rc
}

// LoadMsmtprc reads an msmtp configuration file; see ParseMsmtprc.
func LoadMsmtprc(path string) (*File, error) {
	return load(path, ParseMsmtprc)
}

// ParseMsmtprc parses data, the contents of the msmtp configuration file
// called name, with msmtp's semantics:
//
//   - Each line is a command and its argument; blank lines and lines whose
//     first non-blank character is # are ignored. A comment cannot follow a
//     command on its line. An argument enclosed in double quotes loses them
//     (and nothing else: like msmtp, there are no backslash escapes).
//   - "defaults" starts settings that every account defined after it starts
//     from. "account NAME" starts an account with the defaults filled in;
//     "account NAME : A, B" then takes the settings of the earlier accounts
//     A and B in turn, as msmtp does. "account default : NAME" makes the
//     default account. Settings before any account or defaults go to an
//     account called "default", as in msmtp.
//
// The commands map onto smtpkit as follows:
//
//	host, port, from, user     Host, Port, From, User; the port defaults to
//	                           25, or 465 with tls on and tls_starttls off
//	tls off (msmtp's default)  SecurityNone: no TLS at all, as in msmtp
//	tls on                     SecurityStartTLS (STARTTLS required), or
//	                           SecurityImplicitTLS with tls_starttls off
//	tls_trust_file             TLS.CAFile; "system" or empty: the system roots
//	tls_fingerprint            TLS.Fingerprints; SHA-256 only (msmtp's SHA-1
//	                           and MD5 forms are errors that say so)
//	tls_cert_file, tls_key_file  TLS.CertFile, TLS.KeyFile
//	tls_certcheck off          TLSInsecureSkipVerify (a fingerprint is still checked)
//	tls_host_override          TLSServerName
//	auth on / off / METHOD     log in choosing the mechanism / never log in /
//	                           only METHOD; without auth, msmtp and smtpkit do
//	                           not log in, even with a user set
//	password, passwordeval     the password itself, or the first line the
//	                           command prints (run with sh -c when needed);
//	                           with auth oauthbearer or xoauth2, the token
//	proxy_host, proxy_port     Proxy "socks5h://host:port" (port 1080 by
//	                           default): msmtp's proxy is SOCKS5 and lets it
//	                           resolve names
//	source_ip                  LocalAddr
//	timeout SECONDS            ConnectTimeout, GreetingTimeout, CommandTimeout
//	                           and DataTimeout, each SECONDS: msmtp's timeout
//	                           bounds every network operation on its own;
//	                           "off" keeps smtpkit's defaults
//	domain                     LocalName (the EHLO name); when absent, smtpkit's
//	                           default (the local address) instead of msmtp's
//	                           "localhost"
//
// Commands that affect only what msmtp does around sending (logfile,
// syslog, aliases, dsn_notify, set_from_header, ...) or TLS details Go
// chooses itself (tls_priorities, tls_crl_file, ...) are accepted and listed
// in File.Warnings. Commands that would change where or how mail goes and
// that smtpkit cannot honour (socket, protocol lmtp, eval, auth gssapi or
// digest-md5) are errors, as are unknown commands and bad arguments; every
// error names the file, the line and the command.
func ParseMsmtprc(name string, data []byte) (*File, error) {
	r := &msmtpReader{name: name, file: &File{Name: name}, defaults: newMsmtpAccount("", 0)}
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if r.errs.full() {
			break
		}
		r.line(i+1, strings.TrimSuffix(line, "\r"))
	}
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	for _, m := range r.accounts {
		r.file.Accounts = append(r.file.Accounts, r.convert(m))
	}
	if slices.Contains(r.file.Names(), "default") {
		r.file.Default = "default"
	}
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	return r.file, nil
}

// msmtpSetting is one command's argument and where it was read.
type msmtpSetting struct {
	cmd  string // the command as written, such as "tls_nostarttls"
	arg  string
	line int
}

// msmtpAccount is an account (or the defaults) as msmtp holds it.
type msmtpAccount struct {
	name string
	line int
	vals map[string]msmtpSetting // by canonical command
	mask map[string]bool         // the commands set in the account or taken from one it names
}

func newMsmtpAccount(name string, line int) *msmtpAccount {
	return &msmtpAccount{name: name, line: line, vals: map[string]msmtpSetting{}, mask: map[string]bool{}}
}

// msmtpReader reads an msmtprc line by line.
type msmtpReader struct {
	name     string
	file     *File
	errs     errorList
	defaults *msmtpAccount
	accounts []*msmtpAccount
	cur      *msmtpAccount // the account (or defaults) being defined
}

// msmtpIgnored lists msmtp's commands that smtpkit accepts and does not use.
var msmtpIgnored = map[string]string{
	"logfile":                 "smtpkit does not log deliveries to a file",
	"logfile_time_format":     "smtpkit does not log deliveries to a file",
	"syslog":                  "smtpkit does not log to syslog",
	"aliases":                 "smtpkit does not replace local recipients",
	"auto_from":               "smtpkit does not make up envelope senders; set from",
	"maildomain":              "smtpkit does not make up envelope senders; set from",
	"allow_from_override":     "the program sending decides the envelope sender",
	"dsn_notify":              "the program sending asks for delivery status notifications",
	"dsn_return":              "the program sending asks for delivery status notifications",
	"set_from_header":         "smtpkit sends the message as it is given",
	"add_missing_from_header": "smtpkit sends the message as it is given",
	"set_date_header":         "smtpkit sends the message as it is given",
	"add_missing_date_header": "smtpkit sends the message as it is given",
	"set_msgid_header":        "smtpkit sends the message as it is given",
	"remove_bcc_headers":      "smtpkit sends the message as it is given",
	"keepbcc":                 "smtpkit sends the message as it is given",
	"undisclosed_recipients":  "smtpkit sends the message as it is given",
	"ntlmdomain":              "smtpkit's NTLM sends no domain",
	"tls_crl_file":            "Go does not check revocation lists",
	"tls_priorities":          "Go chooses the TLS parameters; use tls_versions in the TOML format to limit versions",
	"tls_min_dh_prime_bits":   "Go does not use finite-field Diffie-Hellman",
	"tls_force_sslv3":         "msmtp ignores it too; Go cannot speak SSL 3.0",
}

// msmtpKnown lists the commands handled, for suggestions.
var msmtpKnown = []string{
	"defaults", "account", "host", "port", "timeout", "connect_timeout", "protocol", "domain", "from",
	"auth", "user", "password", "passwordeval", "tls", "tls_starttls", "tls_nostarttls", "tls_trust_file",
	"tls_fingerprint", "tls_key_file", "tls_cert_file", "tls_certcheck", "tls_nocertcheck", "tls_host_override",
	"proxy_host", "proxy_port", "source_ip", "socket", "eval",
}

// msmtpAuthMethods maps msmtp's auth methods to mechanisms; "" means not supported.
var msmtpAuthMethods = map[string]string{
	"plain": sasl.Plain, "login": sasl.Login, "cram-md5": sasl.CRAMMD5, "ntlm": sasl.NTLM,
	"scram-sha-1": sasl.SCRAMSHA1, "scram-sha-256": sasl.SCRAMSHA256, "external": sasl.External,
	"oauthbearer": sasl.OAUTHBEARER, "xoauth2": sasl.XOAUTH2,
	"digest-md5": "", "gssapi": "",
}

// splitMsmtpLine splits a line into its command and argument as msmtp
// does: the command is the first word, the argument the rest without the
// blanks around it and without enclosing double quotes.
func splitMsmtpLine(line string) (cmd, arg string, ok bool) {
	line = strings.TrimLeft(line, " \t")
	if line == "" || line[0] == '#' {
		return "", "", false
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, "", true
	}
	return line[:i], unquoteMsmtp(line[i:]), true
}

// unquoteMsmtp trims blanks and removes enclosing double quotes.
func unquoteMsmtp(s string) string {
	s = strings.Trim(s, " \t")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// line handles one line of the file.
func (r *msmtpReader) line(n int, text string) {
	cmd, arg, ok := splitMsmtpLine(text)
	if !ok {
		return
	}
	o := Origin{File: r.name, Line: n, Key: cmd}
	fail := func(format string, args ...any) {
		account := ""
		if r.cur != nil {
			account = r.cur.name
		}
		r.errs.add(o, account, format, args...)
	}
	if r.cur == nil && cmd != "account" && cmd != "defaults" {
		// Like msmtp, settings before any account make an account called "default".
		r.cur = newMsmtpAccount("default", n)
		r.accounts = append(r.accounts, r.cur)
	}
	switch cmd {
	case "defaults":
		if arg != "" {
			fail("defaults takes no argument: put settings on the lines after it")
			return
		}
		r.cur = r.defaults
		return
	case "account":
		r.account(o, arg)
		return
	}
	if why, ok := msmtpIgnored[cmd]; ok {
		r.file.warn(o, r.cur.name, "ignored: %s", why)
		return
	}
	canon, err := checkMsmtp(cmd, &arg)
	if err != nil {
		fail("%v", err)
		return
	}
	r.cur.vals[canon] = msmtpSetting{cmd: cmd, arg: arg, line: n}
	r.cur.mask[canon] = true
}

// account handles "account NAME [: A, B]".
func (r *msmtpReader) account(o Origin, arg string) {
	name, parents, hasParents := strings.Cut(arg, ":")
	name = unquoteMsmtp(name)
	switch {
	case name == "":
		r.errs.add(o, "", "the account has no name: write account NAME")
		return
	case strings.ContainsAny(name, ",:"):
		r.errs.add(o, "", "an account name cannot hold a comma or colon")
		return
	}
	for _, a := range r.accounts {
		if a.name == name {
			r.errs.add(o, name, "the account is already defined on line %d: give this one another name", a.line)
			return
		}
	}
	acc := newMsmtpAccount(name, o.Line)
	for k, v := range r.defaults.vals { // the defaults, not marked as set
		acc.vals[k] = v
	}
	if hasParents {
		for _, p := range strings.Split(parents, ",") {
			p = unquoteMsmtp(p)
			if p == "" {
				r.errs.add(o, name, "an account name is missing in the list after the colon")
				return
			}
			i := slices.IndexFunc(r.accounts, func(a *msmtpAccount) bool { return a.name == p })
			if i < 0 {
				r.errs.add(o, name, "there is no account %s defined before this line to inherit from%s",
					strconv.Quote(p), didYouMean(p, r.names()))
				return
			}
			parent := r.accounts[i]
			for k := range parent.mask {
				acc.vals[k] = parent.vals[k]
				acc.mask[k] = true
			}
		}
	}
	r.accounts = append(r.accounts, acc)
	r.cur = acc
}

// names returns the names of the accounts defined so far.
func (r *msmtpReader) names() []string {
	names := make([]string, len(r.accounts))
	for i, a := range r.accounts {
		names[i] = a.name
	}
	return names
}

// checkMsmtp checks a command's argument, normalizing it in place, and
// returns the command's canonical name.
func checkMsmtp(cmd string, arg *string) (string, error) {
	onOff := func() error {
		switch strings.ToLower(*arg) {
		case "", "on":
			*arg = "on"
		case "off":
			*arg = "off"
		default:
			return fmt.Errorf("%s is not on or off", showValue(*arg))
		}
		return nil
	}
	noArg := func(canon string) (string, error) {
		if *arg != "" {
			return "", fmt.Errorf("%s takes no argument", cmd)
		}
		*arg = "off"
		return canon, nil
	}
	switch cmd {
	case "host":
		h, err := checkHost(*arg)
		*arg = h
		return cmd, err
	case "port", "proxy_port":
		if *arg == "" && cmd == "proxy_port" {
			return cmd, nil
		}
		if n, err := strconv.Atoi(*arg); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%s is not a port: want a number from 1 to 65535", showValue(*arg))
		}
		return cmd, nil
	case "timeout", "connect_timeout":
		if *arg != "off" {
			if d, err := smtpkit.ParseTimeout(*arg); err != nil || d == 0 {
				return "", fmt.Errorf("%s is not a timeout: want a number of seconds, or off", showValue(*arg))
			}
		}
		return "timeout", nil
	case "protocol":
		switch *arg {
		case "smtp":
			return cmd, nil
		case "lmtp":
			return "", errors.New("smtpkit speaks SMTP, not LMTP: use an SMTP server")
		}
		return "", fmt.Errorf("%s is not a protocol: want smtp", showValue(*arg))
	case "domain":
		if strings.Contains(*arg, "%") {
			return "", errors.New("msmtp's substitutions (%H, %C, %M) are not supported: write the name itself")
		}
		return cmd, checkText(*arg, true)
	case "from", "user":
		return cmd, checkText(*arg, false)
	case "password", "passwordeval":
		return cmd, nil
	case "auth":
		m := strings.ToLower(*arg)
		switch mech, ok := msmtpAuthMethods[m]; {
		case m == "" || m == "on":
			*arg = "on"
		case m == "off":
			*arg = "off"
		case !ok:
			return "", fmt.Errorf("%s is not an authentication method: want on, off, or one of plain, login, "+
				"cram-md5, scram-sha-1, scram-sha-256, ntlm, oauthbearer, xoauth2, external", showValue(*arg))
		case mech == "":
			return "", fmt.Errorf("smtpkit does not support %s: use auth on to choose a mechanism the server offers", m)
		default:
			*arg = mech
		}
		return cmd, nil
	case "tls", "tls_starttls", "tls_certcheck":
		return cmd, onOff()
	case "tls_nostarttls":
		return noArg("tls_starttls")
	case "tls_nocertcheck":
		return noArg("tls_certcheck")
	case "tls_trust_file", "tls_cert_file", "tls_key_file":
		if *arg != "system" || cmd != "tls_trust_file" {
			*arg = expandHome(*arg)
		}
		return cmd, nil
	case "tls_fingerprint":
		if *arg == "" {
			return cmd, nil
		}
		_, err := smtpkit.ParseFingerprint(*arg)
		return cmd, err
	case "tls_host_override":
		return cmd, checkText(*arg, true)
	case "proxy_host":
		h, err := checkHost(*arg)
		*arg = h
		return cmd, err
	case "source_ip":
		if *arg != "" && net.ParseIP(*arg) == nil {
			return "", fmt.Errorf("%s is not an IP address", showValue(*arg))
		}
		return cmd, nil
	case "socket":
		return "", errors.New("smtpkit connects over TCP only, not through a Unix socket: set host and port")
	case "eval":
		return "", errors.New("eval is not supported (it would run commands while the file is read): " +
			"write the setting itself, or use passwordeval for the password")
	}
	return "", fmt.Errorf("there is no such msmtp command%s", didYouMean(cmd, append(msmtpKnown, mapsKeys(msmtpIgnored)...)))
}

// mapsKeys returns m's keys.
func mapsKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// convert turns an msmtp account into an Account.
func (r *msmtpReader) convert(m *msmtpAccount) *Account {
	a := &Account{Name: m.name, DefinedAt: Origin{File: r.name, Line: m.line}}
	at := func(s msmtpSetting) Origin { return Origin{File: r.name, Line: s.line, Key: s.cmd} }
	here := Origin{File: r.name, Line: m.line}
	get := func(cmd string) (msmtpSetting, bool) { s, ok := m.vals[cmd]; return s, ok }

	if s, ok := get("host"); ok {
		a.Host = s.arg
		a.mark(fHost, at(s))
	}
	if s, ok := get("from"); ok && s.arg != "" {
		a.From = s.arg
		a.mark(fFrom, at(s))
		if strings.ContainsAny(s.arg, "%*?[") {
			r.file.warn(at(s), m.name, "from holds a pattern or substitution, which smtpkit sends as it is: write the address")
		}
	}

	// tls and tls_starttls make the security mode; msmtp's default is no TLS.
	tlsOn, tlsAt := false, here
	if s, ok := get("tls"); ok {
		tlsOn, tlsAt = s.arg == "on", at(s)
	}
	starttls := true
	if s, ok := get("tls_starttls"); ok {
		starttls = s.arg == "on"
		if tlsOn {
			tlsAt = at(s)
		}
	}
	switch {
	case !tlsOn:
		a.Security = smtpkit.SecurityNone
		r.file.warn(tlsAt, m.name, "tls is off (msmtp's default), so mail and password go unencrypted: add tls on")
	case starttls:
		a.Security = smtpkit.SecurityStartTLS
	default:
		a.Security = smtpkit.SecurityImplicitTLS
	}
	a.mark(fSecurity, tlsAt)

	if s, ok := get("port"); ok {
		a.Port, _ = strconv.Atoi(s.arg)
		a.mark(fPort, at(s))
	} else {
		a.Port = 25
		if a.Security == smtpkit.SecurityImplicitTLS {
			a.Port = 465
		}
		a.mark(fPort, here)
	}

	if s, ok := get("tls_trust_file"); ok && s.arg != "system" && s.arg != "" {
		a.TLS.CAFile = s.arg
		a.mark(fTLSCAFile, at(s))
	}
	if s, ok := get("tls_fingerprint"); ok && s.arg != "" {
		a.TLS.Fingerprints = []string{s.arg}
		a.mark(fTLSFingerprints, at(s))
	}
	if s, ok := get("tls_cert_file"); ok && s.arg != "" {
		a.TLS.CertFile = s.arg
		a.mark(fTLSCertFile, at(s))
	}
	if s, ok := get("tls_key_file"); ok && s.arg != "" {
		a.TLS.KeyFile = s.arg
		a.mark(fTLSKeyFile, at(s))
	}
	if s, ok := get("tls_certcheck"); ok && s.arg == "off" {
		a.TLSInsecureSkipVerify = true
		a.mark(fTLSInsecureSkipVerify, at(s))
	}
	if s, ok := get("tls_host_override"); ok && s.arg != "" {
		a.TLSServerName = s.arg
		a.mark(fTLSServerName, at(s))
	}

	// auth: msmtp logs in only when auth says so.
	a.Auth = AuthOff
	authAt := here
	token := false
	if s, ok := get("auth"); ok {
		authAt = at(s)
		switch s.arg {
		case "on":
			a.Auth = AuthOn
		case "off":
		default:
			a.Auth = AuthOn
			a.AuthMechanisms = []string{s.arg}
			a.mark(fAuthMechanisms, at(s))
			token = s.arg == sasl.OAUTHBEARER || s.arg == sasl.XOAUTH2
			if !tlsOn && (s.arg == sasl.Plain || s.arg == sasl.Login || token) {
				r.file.warn(at(s), m.name, "%s sends the password in cleartext without tls, which smtpkit refuses: "+
					"add tls on (or allow it with SMTPKIT_ALLOW_CLEARTEXT_AUTH=true)", s.arg)
			}
		}
	}
	a.mark(fAuth, authAt)
	if s, ok := get("user"); ok && s.arg != "" {
		a.User = s.arg
		a.mark(fUser, at(s))
	}
	secret, secretAt := Secret{}, Origin{}
	pw, hasPW := get("password")
	eval, hasEval := get("passwordeval")
	switch {
	case hasPW && pw.arg != "":
		secret, secretAt = SecretValue(pw.arg), at(pw)
		if hasEval && eval.arg != "" {
			r.file.warn(at(eval), m.name, "password is set too, and wins, as in msmtp")
		}
	case hasEval && eval.arg != "":
		secret, secretAt = SecretFromCommand(eval.arg), at(eval)
	}
	if !secret.IsZero() {
		secret.at, secret.account = secretAt, m.name
		if token {
			a.Token = secret
			a.mark(fToken, secretAt)
		} else {
			a.Password = secret
			a.mark(fPassword, secretAt)
		}
	}
	if a.Auth == AuthOff && (a.User != "" || !secret.IsZero()) {
		r.file.warn(authAt, m.name, "a user or password is set but auth is not on, so, as in msmtp, "+
			"there is no login: add auth on")
	}

	if s, ok := get("proxy_host"); ok && s.arg != "" {
		port := "1080"
		if p, ok := get("proxy_port"); ok && p.arg != "" {
			port = p.arg
		}
		a.Proxy = "socks5h://" + net.JoinHostPort(s.arg, port)
		a.mark(fProxy, at(s))
	}
	if s, ok := get("source_ip"); ok && s.arg != "" {
		a.LocalAddr = s.arg
		a.mark(fLocalAddr, at(s))
	}
	if s, ok := get("timeout"); ok && s.arg != "off" {
		d, _ := smtpkit.ParseTimeout(s.arg) // checked when read
		a.ConnectTimeout, a.GreetingTimeout, a.CommandTimeout, a.DataTimeout = d, d, d, d
		for _, f := range []field{fConnectTimeout, fGreetingTimeout, fCommandTimeout, fDataTimeout} {
			a.mark(f, at(s))
		}
	}
	if s, ok := get("domain"); ok && s.arg != "" {
		a.LocalName = s.arg
		a.mark(fLocalName, at(s))
	}
	return a
}
