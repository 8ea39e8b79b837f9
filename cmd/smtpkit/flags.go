package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/proxy"
)

// connFlags are the connection settings every command that reaches a server takes.
type connFlags struct {
	security        string
	connectTimeout  time.Duration
	greetingTimeout time.Duration
	commandTimeout  time.Duration
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

// register adds the connection flags to fl.
func (f *connFlags) register(fl *pflag.FlagSet) {
	fl.StringVarP(&f.security, "security", "s", "auto",
		"tls-auto, auto, implicit-tls, starttls, starttls-if-offered or none")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", smtpkit.DefaultConnectTimeout, "limit for the TCP connection")
	fl.DurationVar(&f.greetingTimeout, "greeting-timeout", smtpkit.DefaultGreetingTimeout, "limit for the 220 greeting")
	fl.DurationVar(&f.commandTimeout, "command-timeout", 30*time.Second, "limit for each reply")
	fl.DurationVar(&f.timeout, "timeout", 0, "limit for the whole operation (0: none beyond the others)")
	fl.StringVar(&f.localName, "ehlo", "", "name to send with EHLO (default: the local address literal)")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of CA certificates to trust instead of the system roots")
	fl.StringVar(&f.serverName, "tls-server-name", "", "name to verify the certificate against (default: the host)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the protocol transcript (secrets redacted)")
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

// options turns the flags into Options, with warnings and, with -v, the
// transcript going to out; its errors are mistakes in the command line.
func (f *connFlags) options(out io.Writer) (*smtpkit.Options, error) {
	security, err := smtpkit.ParseSecurity(f.security)
	if err != nil {
		return nil, usageError{err}
	}
	opts := &smtpkit.Options{
		Security:        security,
		LocalName:       f.localName,
		ConnectTimeout:  f.connectTimeout,
		GreetingTimeout: f.greetingTimeout,
		CommandTimeout:  f.commandTimeout,
		Timeout:         f.timeout,
		TLSConfig:       &tls.Config{ServerName: f.serverName},
	}
	if f.verbose {
		opts.Transcript = out
	}
	if err := f.network(opts, out); err != nil {
		return nil, usageError{err}
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, usageError{err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError{fmt.Errorf("%s holds no PEM certificate", f.caFile)}
		}
		opts.TLSConfig.RootCAs = pool
	}
	return opts, nil
}

// warnings prints what the user should know about the settings used.
func (f *connFlags) warnings(out io.Writer) {
	if u, err := url.Parse(f.proxy); err == nil && f.proxy != "" {
		fmt.Fprintf(out, "Proxy:        %s\n", u.Redacted())
	}
	if f.insecureSkipVerify && len(f.fingerprints) == 0 {
		fmt.Fprintln(out, "WARNING:      the certificate was NOT verified (--insecure-skip-verify)")
	}
}

// network applies the proxy, binding and TLS policy flags to opts, with
// warnings logged to out; its errors are mistakes in the command line.
func (f *connFlags) network(opts *smtpkit.Options, out io.Writer) error {
	if f.proxy != "" {
		if _, err := proxy.Parse(f.proxy, nil); err != nil { // its errors never show the password
			return fmt.Errorf("--proxy: %w", err)
		}
	}
	if f.bind != "" {
		if _, err := netip.ParseAddr(f.bind); err != nil {
			if _, err := netip.ParseAddrPort(f.bind); err != nil {
				return fmt.Errorf("--bind %q: want an IP address or IP:port, such as 192.0.2.10 or [2001:db8::1]:0", f.bind)
			}
		}
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return errors.New("--cert and --key go together: give both, or neither")
	}
	versions, err := parseTLSVersions(f.tlsVersions)
	if err != nil {
		return err
	}
	opts.Logger = slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // a report has no use for it
			}
			return a
		},
	}))
	opts.Proxy = f.proxy
	opts.LocalAddr = f.bind
	opts.TLS = smtpkit.TLSOptions{
		Versions:           versions,
		StrictVersions:     f.tlsStrict,
		Fingerprints:       f.fingerprints,
		CertFile:           f.certFile,
		KeyFile:            f.keyFile,
		InsecureSkipVerify: f.insecureSkipVerify,
	}
	return nil
}

// parseTLSVersions parses a list such as "1.2,1.3"; "ssl3" names SSL 3.0.
func parseTLSVersions(list string) ([]uint16, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	names := map[string]uint16{
		"ssl3": smtpkit.VersionSSL30, "ssl3.0": smtpkit.VersionSSL30, "3.0": smtpkit.VersionSSL30,
		"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13,
	}
	var versions []uint16
	for _, name := range strings.Split(list, ",") {
		n := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "tls")
		v, ok := names[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("--tls-versions: unknown version %q (want 1.0, 1.1, 1.2, 1.3 or ssl3, separated by commas)", name)
		}
		versions = append(versions, v)
	}
	return versions, nil
}

// authFlags say who logs in and how; the secret never comes from a flag,
// where other users of the machine could see it.
type authFlags struct {
	user           string
	passwordEnv    string
	passwordStdin  bool
	tokenEnv       string
	mechanisms     []string
	allowCleartext bool
}

// register adds the login flags to fl.
func (f *authFlags) register(fl *pflag.FlagSet) {
	fl.StringVarP(&f.user, "user", "u", "", "user name to log in as")
	fl.StringVar(&f.passwordEnv, "password-env", "SMTPKIT_PASSWORD", "environment variable that holds the password")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fl.StringVar(&f.tokenEnv, "token-env", "", "environment variable that holds an OAuth 2 access token (XOAUTH2, OAUTHBEARER)")
	fl.StringSliceVar(&f.mechanisms, "auth", nil, "mechanisms allowed, such as SCRAM-SHA-256,PLAIN (default: the strongest offered)")
	fl.BoolVar(&f.allowCleartext, "allow-cleartext-auth", false,
		"allow PLAIN, LOGIN and token mechanisms on a connection without TLS, where anyone on the path can read the secret")
}

// auth builds the login settings, reading the secret from where the flags say.
func (f *authFlags) auth(stdin io.Reader) (*smtpkit.Auth, error) {
	if f.user == "" {
		return nil, usageError{errors.New("--user is needed to log in")}
	}
	a := &smtpkit.Auth{Username: f.user, Mechanisms: f.mechanisms, AllowCleartext: f.allowCleartext}
	switch {
	case f.passwordStdin:
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return nil, usageError{errors.New("--password-stdin: standard input holds no password")}
		}
		a.Password = strings.TrimRight(line, "\r\n")
	case f.passwordEnv != "":
		a.Password = os.Getenv(f.passwordEnv)
	}
	if f.tokenEnv != "" {
		if a.Token = os.Getenv(f.tokenEnv); a.Token == "" {
			return nil, usageError{fmt.Errorf("--token-env: $%s is empty", f.tokenEnv)}
		}
	}
	if a.Password == "" && a.Token == "" {
		return nil, usageError{fmt.Errorf("no password: set $%s, or use --password-stdin or --token-env", f.passwordEnv)}
	}
	return a, nil
}
