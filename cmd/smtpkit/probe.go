package main

import (
	"context"
	"crypto/sha256"
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

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/proxy"
	"github.com/smtpkit/smtpkit/smtptest"
)

// probeFlags are the connection settings of the probe command.
type probeFlags struct {
	security        string
	connectTimeout  time.Duration
	greetingTimeout time.Duration
	commandTimeout  time.Duration
	timeout         time.Duration
	localName       string
	caFile          string
	serverName      string
	verbose         bool
	demo            bool

	proxy              string
	bind               string
	tlsVersions        string
	tlsStrict          bool
	fingerprints       []string
	certFile, keyFile  string
	insecureSkipVerify bool
}

func newProbeCommand() *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe [flags] HOST[:PORT]",
		Short: "Connect to a server and report its greeting, security mode, TLS and capabilities",
		Long: `Connect to an SMTP server, set up the session in the chosen security mode,
and report the greeting, the security mode in use, the TLS version, cipher and
certificate, the capabilities announced after TLS, and how long each phase took.
Nothing is sent beyond EHLO, STARTTLS and QUIT.`,
		Example: `  smtpkit probe mail.example.com:587
  smtpkit probe --security implicit-tls smtp.example.com:465
  smtpkit probe --security starttls --greeting-timeout 5s -v mx.example.com:25
  smtpkit probe --proxy socks5h://user:pass@proxy.example:1080 mail.example.com:587
  smtpkit probe --tls-versions 1.2 --fingerprint 5E:A1:...:07 mail.example.com:465
  smtpkit probe --demo        # probe an embedded local server: no network needed`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.demo && len(args) == 0 || !f.demo && len(args) == 1 {
				return nil
			}
			return usageError{errors.New("probe takes one address (HOST[:PORT]), or --demo and none")}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProbe(cmd.Context(), cmd.OutOrStdout(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.security, "security", "s", "auto",
		"tls-auto, auto, implicit-tls, starttls, starttls-if-offered or none")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", smtpkit.DefaultConnectTimeout, "limit for the TCP connection")
	fl.DurationVar(&f.greetingTimeout, "greeting-timeout", smtpkit.DefaultGreetingTimeout, "limit for the 220 greeting")
	fl.DurationVar(&f.commandTimeout, "command-timeout", 30*time.Second, "limit for each reply")
	fl.DurationVar(&f.timeout, "timeout", 0, "limit for the whole probe (0: none beyond the others)")
	fl.StringVar(&f.localName, "ehlo", "", "name to send with EHLO (default: the local address literal)")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of CA certificates to trust instead of the system roots")
	fl.StringVar(&f.serverName, "tls-server-name", "", "name to verify the certificate against (default: the host)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the protocol transcript")
	fl.BoolVar(&f.demo, "demo", false, "start an embedded local STARTTLS server and probe it")
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
	return cmd
}

func runProbe(ctx context.Context, out io.Writer, f probeFlags, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	security, err := smtpkit.ParseSecurity(f.security)
	if err != nil {
		return usageError{err}
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
	if err := f.network(opts, out); err != nil {
		return usageError{err}
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return usageError{err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return usageError{fmt.Errorf("%s holds no PEM certificate", f.caFile)}
		}
		opts.TLSConfig.RootCAs = pool
	}
	var addr string
	if f.demo {
		srv := smtptest.NewServer(smtptest.StartTLS)
		defer srv.Close()
		addr = srv.Addr
		opts.TLSConfig = smtptest.ClientTLSConfig()
		fmt.Fprintf(out, "Demo: an embedded STARTTLS server listens on %s\n\n", addr)
	} else {
		addr = args[0]
	}
	if f.verbose {
		opts.Transcript = out
	}
	var timings []smtpkit.TraceEvent
	opts.Trace = &smtpkit.Trace{PhaseDone: func(e smtpkit.TraceEvent) {
		timings = append(timings, e)
	}}

	start := time.Now()
	c, err := smtpkit.Dial(ctx, addr, opts)
	if err != nil {
		return err
	}
	total := time.Since(start)
	if u, err := url.Parse(f.proxy); err == nil && f.proxy != "" {
		fmt.Fprintf(out, "Proxy:        %s\n", u.Redacted())
	}
	if f.insecureSkipVerify && len(f.fingerprints) == 0 {
		fmt.Fprintln(out, "WARNING:      the certificate was NOT verified (--insecure-skip-verify)")
	}
	report(out, c, security, timings, total)
	return c.Quit(ctx)
}

func report(out io.Writer, c *smtpkit.Client, asked smtpkit.Security, timings []smtpkit.TraceEvent, total time.Duration) {
	fmt.Fprintf(out, "Server:       %s\n", c.Addr())
	fmt.Fprintf(out, "Greeting:     %s\n", c.Greeting())
	fmt.Fprintf(out, "Security:     %s (asked for %s)\n", c.Security(), asked)
	if st, ok := c.TLSConnectionState(); ok {
		fmt.Fprintf(out, "TLS:          %s, %s\n", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
		if len(st.PeerCertificates) > 0 {
			cert := st.PeerCertificates[0]
			sum := sha256.Sum256(cert.Raw)
			fmt.Fprintf(out, "Certificate:  %s\n", cert.Subject)
			fmt.Fprintf(out, "  issuer:     %s\n", cert.Issuer)
			fmt.Fprintf(out, "  valid:      %s to %s\n", cert.NotBefore.UTC().Format(time.DateOnly), cert.NotAfter.UTC().Format(time.DateOnly))
			if len(cert.DNSNames) > 0 {
				fmt.Fprintf(out, "  names:      %s\n", strings.Join(cert.DNSNames, ", "))
			}
			fmt.Fprintf(out, "  SHA-256:    %s\n", fingerprint(sum[:]))
		}
	}
	caps := c.Capabilities()
	if !caps.ESMTP() {
		fmt.Fprintln(out, "Capabilities: none (the server accepted only HELO)")
	} else {
		fmt.Fprintln(out, "Capabilities:")
		for _, l := range caps.Lines() {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
	fmt.Fprintln(out, "Timings:")
	session := timings[len(timings)-1].Conn // the connection that finished the session
	for _, t := range timings {
		note := ""
		if t.Conn != session {
			note = "  (mode detection, abandoned"
			if t.Err != nil {
				note += ": " + t.Err.Error()
			}
			note += ")"
		}
		fmt.Fprintf(out, "  #%d %-9s %8.2f ms%s\n", t.Conn, t.Phase, ms(t.Elapsed), note)
	}
	fmt.Fprintf(out, "     %-9s %8.2f ms\n", "total", ms(total))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fingerprint(sum []byte) string {
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// network applies the proxy, binding and TLS policy flags to opts, with
// warnings logged to out; its errors are mistakes in the command line.
func (f probeFlags) network(opts *smtpkit.Options, out io.Writer) error {
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
				return slog.Attr{} // a probe's report has no use for it
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
