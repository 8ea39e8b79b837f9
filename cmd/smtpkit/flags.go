package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/config"
	"github.com/smtpkit/smtpkit/proxy"
)

// connFlags are the connection settings every command that reaches a server takes.
type connFlags struct {
	fs       *pflag.FlagSet
	defaults defaults

	account    string
	configFile string
	url        string
	server     string
	port       int

	security        string
	connectTimeout  time.Duration
	greetingTimeout time.Duration
	commandTimeout  time.Duration
	dataTimeout     time.Duration
	timeout         time.Duration
	localName       string
	caFile          string
	serverName      string
	verbose         bool

	proxy              string
	bind               string
	tlsVersions        string
	tlsStrict          bool
	fingerprints       []string
	certFile, keyFile  string
	insecureSkipVerify bool
}

// register adds the connection flags to fl; every command has the same
// defaults, the library's.
func (f *connFlags) register(fl *pflag.FlagSet) {
	d := commandDefaults
	f.fs, f.defaults = fl, d
	fl.StringVar(&f.account, "account", "", "the account to use from the configuration file (default: the file's default)")
	fl.StringVar(&f.configFile, "config", "",
		"configuration file: smtpkit TOML (*.toml), .NET (*.config) or msmtprc (default: $SMTPKIT_CONFIG, ~/.config/smtpkit/config.toml, ~/.msmtprc)")
	fl.StringVar(&f.url, "url", "", "the account as a URL, such as smtp://user@mail.example.com:587?security=starttls")
	fl.StringVar(&f.server, "server", "", "the server, HOST[:PORT] (probe and check also take it as their argument)")
	fl.IntVar(&f.port, "port", 0, "the server's port (default: 465 for implicit-tls, 587 otherwise)")
	fl.StringVarP(&f.security, "security", "s", d.security.String(),
		"tls-auto, auto, implicit-tls, starttls, starttls-if-offered or none")
	timeoutVar(fl, &f.connectTimeout, "connect-timeout", smtpkit.DefaultConnectTimeout, "limit for the TCP connection")
	timeoutVar(fl, &f.greetingTimeout, "greeting-timeout", smtpkit.DefaultGreetingTimeout, "limit for the 220 greeting")
	timeoutVar(fl, &f.commandTimeout, "command-timeout", d.commandTimeout, "limit for each reply")
	timeoutVar(fl, &f.dataTimeout, "data-timeout", smtpkit.DefaultDataTimeout, "limit for the reply after the message data")
	timeoutVar(fl, &f.timeout, "timeout", 0, "limit for the whole operation (0: none beyond the others)")
	fl.StringVar(&f.localName, "ehlo", "", "name to send with EHLO (default: the local address literal)")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of CA certificates to trust instead of the system roots")
	fl.StringVar(&f.serverName, "tls-server-name", "", "name to verify the certificate against (default: the host)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false,
		"print the protocol transcript, swaks style: -> <- plaintext, ~> <~ TLS, === info, *** errors (secrets redacted)")
	fl.StringVar(&f.proxy, "proxy", "",
		"connect through this proxy: socks4://, socks4a://, socks5://, socks5h://, http:// or https://[user:pass@]host:port")
	fl.StringVar(&f.bind, "bind", "", "local address to connect from: an IP, or IP:port")
	fl.StringVar(&f.tlsVersions, "tls-versions", "",
		"TLS versions to allow, such as 1.2,1.3 (1.0, 1.1, 1.2, 1.3; ssl3 is dropped with a warning unless --tls-strict)")
	fl.BoolVar(&f.tlsStrict, "tls-strict", false, "refuse --tls-versions that this program cannot speak instead of dropping them")
	fl.StringArrayVar(&f.fingerprints, "fingerprint", nil,
		"trust only the server certificate with this SHA-256 fingerprint, whoever signed it (repeatable; hex, colons optional)")
	fl.StringVar(&f.certFile, "cert", "", "PEM client certificate to present (with --key)")
	fl.StringVar(&f.keyFile, "key", "", "PEM private key of the --cert client certificate")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false,
		"DANGEROUS: do not verify the server's certificate at all, so anyone on the path can read and change "+
			"the session; for tests only")
}

// timeoutVar adds a time-limit flag read by smtpkit.ParseTimeout, the
// parser of every time limit: "30s", "2m", or seconds as "30".
func timeoutVar(fl *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fl.Var((*timeoutValue)(p), name, usage+` (such as 30s, 2m, or 30 for seconds)`)
}

// timeoutValue is a time limit as a flag.
type timeoutValue time.Duration

func (v *timeoutValue) String() string { return time.Duration(*v).String() }
func (v *timeoutValue) Type() string   { return "duration" }
func (v *timeoutValue) Set(s string) error {
	d, err := smtpkit.ParseTimeout(s)
	if err != nil {
		return err
	}
	*v = timeoutValue(d)
	return nil
}

func (f *connFlags) changed(name string) bool { return f.fs != nil && f.fs.Changed(name) }

// sources turns the flags and the HOST[:PORT] argument ("" when absent)
// into the command line's layer of settings; its errors are mistakes in
// the command line.
func (f *connFlags) sources(hostArg string) (*sources, error) {
	s := &sources{
		account: f.account, accountGiven: f.changed("account"),
		configFile: f.configFile, configGiven: f.changed("config"),
		url: f.url, server: hostArg,
	}
	if f.changed("server") {
		if hostArg != "" {
			return nil, usageError{errors.New("give the server once: as the argument HOST[:PORT] or with --server")}
		}
		s.server = f.server
	}
	if f.changed("proxy") {
		if _, err := proxy.Parse(f.proxy, nil); err != nil { // its errors never show the password
			return nil, usageError{fmt.Errorf("--proxy: %w", err)}
		}
	}
	flags := []struct {
		flag, key string
		value     func() string
	}{
		{"port", "port", func() string { return strconv.Itoa(f.port) }},
		{"security", "security", func() string { return f.security }},
		{"connect-timeout", "connect_timeout", f.connectTimeout.String},
		{"greeting-timeout", "greeting_timeout", f.greetingTimeout.String},
		{"command-timeout", "command_timeout", f.commandTimeout.String},
		{"data-timeout", "data_timeout", f.dataTimeout.String},
		{"timeout", "timeout", f.timeout.String},
		{"ehlo", "ehlo_name", func() string { return f.localName }},
		{"ca-file", "tls_ca_file", func() string { return f.caFile }},
		{"tls-versions", "tls_versions", func() string { return f.tlsVersions }},
		{"fingerprint", "tls_fingerprints", func() string { return strings.Join(f.fingerprints, ",") }},
		{"tls-server-name", "tls_server_name", func() string { return f.serverName }},
		{"proxy", "proxy", func() string { return f.proxy }},
		{"bind", "local_address", func() string { return f.bind }},
		{"tls-strict", "tls_strict_versions", func() string { return strconv.FormatBool(f.tlsStrict) }},
		{"cert", "tls_cert_file", func() string { return f.certFile }},
		{"key", "tls_key_file", func() string { return f.keyFile }},
		{"insecure-skip-verify", "tls_insecure_skip_verify", func() string { return strconv.FormatBool(f.insecureSkipVerify) }},
	}
	for _, fl := range flags {
		if f.changed(fl.flag) {
			s.sets = append(s.sets, setting{fl.flag, fl.key, fl.value()})
		}
	}
	return s, nil
}

// loginMode says whether a command logs in.
type loginMode int

const (
	loginAsAccount loginMode = iota // as the account says (send)
	loginNever                      // probe
	loginAlways                     // check
)

// session is what a command needs to reach a server.
type session struct {
	acct       *config.Account
	file       *config.File // nil when no file was read
	opts       *smtpkit.Options
	transcript *transcript // nil without -v
	events     *eventLog   // nil unless the command reports from the events
	modes      smtpkit.ModeCache
}

// observe is the Options.Trace of every command: the events feed the
// transcript and the command's report.
func (s *session) observe(e smtpkit.Event) {
	if s.transcript != nil {
		s.transcript.event(e)
	}
	if s.events != nil {
		s.events.add(e)
	}
}

// dialer returns a Dialer with the session's Options, as the command has
// finished them, and the modes remembered across runs.
func (s *session) dialer() *smtpkit.Dialer {
	return &smtpkit.Dialer{Options: *s.opts, Modes: s.modes}
}

// modesFile returns the file of the modes Auto found, remembered across
// runs so that a run does not probe again and a TLS mode found once stays
// required: $SMTPKIT_MODES_FILE, else the XDG state directory's.
func modesFile() string {
	if p := os.Getenv("SMTPKIT_MODES_FILE"); p != "" {
		return p
	}
	return smtpkit.DefaultModeCachePath()
}

// addr is the server's host:port.
func (s *session) addr() string { return s.acct.Addr() }

// session merges the layers and builds the Options: warnings and the log go
// to errOut, the transcript (with -v) to out.
func (f *connFlags) session(ctx context.Context, src *sources, login loginMode, out, errOut io.Writer) (*session, error) {
	acct, file, err := src.resolve(f.defaults)
	if err != nil {
		return nil, err
	}
	switch login {
	case loginNever:
		acct.Auth = config.AuthOff
	case loginAlways:
		if acct.User == "" && !onlyExternal(acct.AuthMechanisms) {
			return nil, usageError{errors.New("--user is needed to log in (or user in the account)")}
		}
		acct.Auth = config.AuthOn
	}
	if acct.LogsIn() && acct.Password.IsZero() && acct.Token.IsZero() && !onlyExternal(acct.AuthMechanisms) {
		return nil, usageError{errors.New("no password: set $SMTPKIT_PASSWORD, or use --password-env, " +
			"--password-stdin or --token-env, or password_command in the account")}
	}
	if (acct.TLS.CertFile == "") != (acct.TLS.KeyFile == "") && (f.changed("cert") || f.changed("key")) {
		return nil, usageError{errors.New("--cert and --key go together: give both, or neither")}
	}
	if acct.LogsIn() && acct.Token.IsZero() && onlyTokenMechanisms(acct.AuthMechanisms) && src.flagSet("auth_mechanisms") {
		return nil, usageError{fmt.Errorf("--auth %s: the mechanisms allowed need an OAuth 2 token: "+
			"give --token-env VAR (or token_command in the account), or allow a password mechanism too",
			strings.Join(acct.AuthMechanisms, ","))}
	}
	opts, err := acct.Options(ctx)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) && ce.File == commandLine {
			return nil, usageError{err} // a flag's value
		}
		return nil, configError{err}
	}
	opts.Logger = slog.New(newWarnHandler(errOut))
	if u, err := url.Parse(src.url); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			fmt.Fprintln(errOut, "smtpkit: warning: the password of --url shows in the process list to other users of this machine: "+
				"put the URL in $SMTPKIT_URL, or the password in $SMTPKIT_PASSWORD")
		}
	}
	s := &session{acct: acct, file: file, opts: opts, events: &eventLog{}}
	if !src.noFiles { // --demo: its servers come and go, nothing to remember
		s.modes = &smtpkit.FileModeCache{Path: modesFile(), Logger: opts.Logger}
	}
	if f.verbose {
		s.transcript = newTranscript(out)
	}
	opts.Trace = s.observe
	return s, nil
}

// onlyTokenMechanisms reports whether mechs allows only the OAuth 2 mechanisms.
func onlyTokenMechanisms(mechs []string) bool {
	for _, m := range mechs {
		if m = strings.ToUpper(m); m != "XOAUTH2" && m != "OAUTHBEARER" {
			return false
		}
	}
	return len(mechs) > 0
}

// onlyExternal reports whether mechs allows only mechanisms that need no secret.
func onlyExternal(mechs []string) bool {
	for _, m := range mechs {
		if m = strings.ToUpper(m); m != "EXTERNAL" && m != "ANONYMOUS" {
			return false
		}
	}
	return len(mechs) > 0
}

// warnings prints what the user should know about the settings used.
func (s *session) warnings(out io.Writer) {
	if u, err := url.Parse(s.opts.Proxy); err == nil && s.opts.Proxy != "" {
		fmt.Fprintf(out, "Proxy:        %s\n", u.Redacted())
	}
	if s.acct.TLSInsecureSkipVerify && len(s.opts.TLS.Fingerprints) == 0 {
		fmt.Fprintln(out, "WARNING:      the certificate was NOT verified (--insecure-skip-verify)")
	}
}

// authFlags say who logs in and how; the secret never comes from a flag,
// where other users of the machine could see it.
type authFlags struct {
	fs             *pflag.FlagSet
	user           string
	passwordEnv    string
	passwordStdin  bool
	tokenEnv       string
	mechanisms     []string
	allowCleartext bool
}

// register adds the login flags to fl.
func (f *authFlags) register(fl *pflag.FlagSet) {
	f.fs = fl
	fl.StringVarP(&f.user, "user", "u", "", "user name to log in as")
	fl.StringVar(&f.passwordEnv, "password-env", "SMTPKIT_PASSWORD", "environment variable that holds the password")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fl.StringVar(&f.tokenEnv, "token-env", "", "environment variable that holds an OAuth 2 access token (XOAUTH2, OAUTHBEARER)")
	fl.StringSliceVar(&f.mechanisms, "auth", nil, "mechanisms allowed, such as SCRAM-SHA-256,PLAIN (default: the strongest offered)")
	fl.BoolVar(&f.allowCleartext, "allow-cleartext-auth", false,
		"allow PLAIN, LOGIN and token mechanisms on a connection without TLS, where anyone on the path can read the secret")
}

func (f *authFlags) changed(name string) bool { return f.fs != nil && f.fs.Changed(name) }

// addTo adds the login flags given to s, reading the password from stdin
// when --password-stdin says so.
func (f *authFlags) addTo(s *sources, stdin io.Reader) error {
	if f.changed("user") {
		s.sets = append(s.sets, setting{"user", "user", f.user})
	}
	switch {
	case f.passwordStdin:
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line == "" {
			if err == nil {
				err = errors.New("the first line is empty")
			}
			return usageError{fmt.Errorf("--password-stdin: standard input holds no password (%v)", err)}
		}
		s.sets = append(s.sets, setting{"password-stdin", "password", line})
	case f.changed("password-env"):
		if os.Getenv(f.passwordEnv) == "" {
			return usageError{fmt.Errorf("no password: $%s is empty", f.passwordEnv)}
		}
		s.sets = append(s.sets, setting{"password-env", "password_env", f.passwordEnv})
	}
	if f.changed("token-env") {
		if os.Getenv(f.tokenEnv) == "" {
			return usageError{fmt.Errorf("--token-env: $%s is empty", f.tokenEnv)}
		}
		s.sets = append(s.sets, setting{"token-env", "token_env", f.tokenEnv})
	}
	if f.changed("auth") {
		s.sets = append(s.sets, setting{"auth", "auth_mechanisms", strings.Join(f.mechanisms, ",")})
	}
	if f.changed("allow-cleartext-auth") {
		s.sets = append(s.sets, setting{"allow-cleartext-auth", "allow_cleartext_auth", strconv.FormatBool(f.allowCleartext)})
	}
	return nil
}
