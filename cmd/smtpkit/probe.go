package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// probeFlags are the settings of the probe command.
type probeFlags struct {
	conn connFlags
	demo bool
	json bool
}

func newProbeCommand() *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe [flags] [HOST[:PORT]]",
		Short: "Connect to a server and report its greeting, security mode, TLS, certificates and capabilities",
		Long: `Connect to an SMTP server, set up the session in the chosen security mode,
and report what msmtp --serverinfo and more would: the greeting, the
security mode in use, the TLS version and cipher, each certificate the
server sent (subject, issuer, validity, days left, names, SHA-256
fingerprint), the largest message it takes, its AUTH mechanisms, every
capability announced after TLS, and how long each phase took. Nothing is
sent beyond EHLO, STARTTLS and QUIT: probe never logs in, whatever the
account says.

A certificate that does not verify is shown as well, with the flags that
get past it: --ca-file with the CA that issued it, or --fingerprint with
its SHA-256 once checked another way. A server that offers no TLS at all,
which the default --security tls-auto refuses, is named as such with the
flag that reaches it (--security starttls-if-offered or none).

With --json the report is one JSON object on standard output (the
transcript of -v then goes to standard error), failures included:
  {"command": "probe", "ok": true, "server": "host:port", "greeting": "...",
   "security": "starttls", "asked_security": "tls-auto",
   "tls": {"version": "TLS 1.3", "cipher": "...", "trusted": true,
     "certificates": [{"subject": "...", "issuer": "...", "not_before": "RFC 3339",
     "not_after": "...", "days_left": 89, "dns_names": [...], "sha256": "AB:CD:..."}]},
   "capabilities": ["PIPELINING", ...], "size_limit": 10485760,
   "auth_mechanisms": ["PLAIN", ...], "hints": ["--security starttls-if-offered", ...],
   "timings": [{"conn": 1, "phase": "connect", "ms": 0.4}], "total_ms": 5.2,
   "error": {"phase": "tls", "code": 0, "message": "...", "exit_code": 29},
   "exit_code": 0}
size_limit is absent without SIZE, and 0 when SIZE names no limit. When the
certificate did not verify, "tls" holds the certificates, "trusted" false.
"hints" are there only when the default security would refuse the server.

` + settingsHelp,
		Example: `  smtpkit probe --demo        # probe an embedded local server: no network needed
  smtpkit probe mail.example.com:587
  smtpkit probe --security implicit-tls smtp.example.com:465
  smtpkit probe --security starttls --greeting-timeout 5s -v mx.example.com:25
  smtpkit probe --account work                    # the server of an account of ~/.msmtprc
  smtpkit probe --proxy socks5h://user:pass@proxy.example:1080 mail.example.com:587
  smtpkit probe --tls-versions 1.2 --fingerprint 5E:A1:...:07 mail.example.com:465
  smtpkit probe --json mail.example.com:587 | jq .tls.certificates[0].days_left`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.demo && len(args) == 0 || !f.demo && len(args) <= 1 {
				return nil
			}
			return usageError{errors.New("probe takes one address (HOST[:PORT]), or --demo and none")}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProbe(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, args)
		},
	}
	f.conn.register(cmd.Flags())
	cmd.Flags().BoolVar(&f.demo, "demo", false, "start an embedded local STARTTLS server (with a login, and an address it refuses) and probe it")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the report as one JSON object")
	return cmd
}

// probeJSON is the report of probe --json.
type probeJSON struct {
	Command string `json:"command"`
	outcomeJSON
	Demo           bool     `json:"demo,omitempty"`
	Server         string   `json:"server,omitempty"`
	Greeting       string   `json:"greeting,omitempty"`
	Security       string   `json:"security,omitempty"`
	AskedSecurity  string   `json:"asked_security,omitempty"`
	Proxy          string   `json:"proxy,omitempty"`
	TLS            *tlsJSON `json:"tls,omitempty"`
	ESMTP          bool     `json:"esmtp"`
	Capabilities   []string `json:"capabilities"`
	SizeLimit      *int64   `json:"size_limit,omitempty"`
	AuthMechanisms []string `json:"auth_mechanisms"`
	// Hints are the flags that reach the server when the default security
	// would refuse it: it offers no TLS at all.
	Hints   []string     `json:"hints,omitempty"`
	Timings []timingJSON `json:"timings"`
	TotalMS float64      `json:"total_ms"`
}

type tlsJSON struct {
	Version string `json:"version,omitempty"` // "" when the handshake failed
	Cipher  string `json:"cipher,omitempty"`
	// Trusted says whether the certificate was verified (or matched a
	// pin); false with --insecure-skip-verify, and when it failed.
	Trusted      bool       `json:"trusted"`
	Certificates []certJSON `json:"certificates"`
}

type certJSON struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	DaysLeft  int       `json:"days_left"` // until not_after; negative once expired
	DNSNames  []string  `json:"dns_names,omitempty"`
	SHA256    string    `json:"sha256"`
}

// newCertJSON describes a certificate as of now.
func newCertJSON(cert *x509.Certificate, now time.Time) certJSON {
	return certJSON{
		Subject: cert.Subject.String(), Issuer: cert.Issuer.String(),
		NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(), DaysLeft: daysLeft(cert, now),
		DNSNames: cert.DNSNames, SHA256: certFingerprint(cert),
	}
}

// daysLeft returns the whole days from now until the certificate expires,
// negative once it has.
func daysLeft(cert *x509.Certificate, now time.Time) int {
	return int(math.Floor(cert.NotAfter.Sub(now).Hours() / 24))
}

// plaintextHints are the flags that reach a server offering no TLS, which
// the default security refuses.
var plaintextHints = []smtpkit.Hint{
	{Field: "Security", Value: smtpkit.SecurityStartTLSIfOffered},
	{Field: "Security", Value: smtpkit.SecurityNone},
}

type timingJSON struct {
	Conn      int     `json:"conn"`
	Phase     string  `json:"phase"`
	MS        float64 `json:"ms"`
	Abandoned bool    `json:"abandoned,omitempty"`
	Error     string  `json:"error,omitempty"`
}

func runProbe(ctx context.Context, out, errOut io.Writer, f *probeFlags, args []string) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	report := &probeJSON{Command: "probe", Demo: f.demo, Capabilities: []string{}, AuthMechanisms: []string{}, Timings: []timingJSON{}}
	var tr *transcript
	if f.json {
		defer printOutcome(out, report, &err)
	}
	defer func() {
		if err != nil && tr != nil {
			tr.error(err)
		}
	}()
	host := ""
	if len(args) > 0 {
		host = args[0]
	}
	src, err := f.conn.sources(host)
	if err != nil {
		return err
	}
	if f.demo {
		srv := startDemo()
		defer srv.Close()
		useDemo(src, srv)
		if !f.json {
			printDemo(out, srv)
		}
	}
	transcriptOut := out
	if f.json {
		transcriptOut = errOut
	}
	s, err := f.conn.session(ctx, src, loginNever, transcriptOut, errOut)
	if err != nil {
		return err
	}
	tr = s.transcript
	printWarnings(errOut, s.file)
	if f.demo {
		s.opts.TLSConfig = smtptest.ClientTLSConfig()
	}
	report.Server, report.AskedSecurity, report.Proxy = s.addr(), s.opts.Security.String(), redactedURL(s.opts.Proxy)
	s.events.timings = true
	if tr != nil {
		tr.info("Trying %s (security %s)", s.addr(), s.opts.Security)
	}
	start := time.Now()
	c, err := s.dialer().Dial(ctx, s.addr())
	total := time.Since(start)
	var session uint64 // the connection of the session; 0 when Dial failed
	if err == nil {
		session = c.ConnID()
	}
	report.fill(s.events, session, total)
	if err != nil {
		var cve *tls.CertificateVerificationError
		if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
			// What the server presented, so that it can be checked and trusted.
			report.TLS = &tlsJSON{Certificates: []certJSON{}}
			for _, cert := range cve.UnverifiedCertificates {
				report.TLS.Certificates = append(report.TLS.Certificates, newCertJSON(cert, time.Now()))
			}
			if !f.json {
				fmt.Fprintf(out, "Server:       %s\n", s.addr())
				printChain(out, cve.UnverifiedCertificates, "NOT TRUSTED: "+cve.Err.Error())
			}
		}
		return err
	}
	report.TLS.setTrusted(s)
	if !f.json {
		s.warnings(out)
		printProbe(out, s.events, session, s.opts.Security, total)
	}
	return c.Quit(ctx)
}

// redactedURL returns u with its password hidden, "" for "".
func redactedURL(u string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return "(an unparsable URL, not shown)"
	}
	return p.Redacted()
}

// fill records what the events say the session found; session is the
// connection of the session, 0 when Dial failed.
func (r *probeJSON) fill(log *eventLog, session uint64, total time.Duration) {
	r.TotalMS = ms(total)
	for _, t := range log.phases() {
		tj := timingJSON{Conn: int(t.ID), Phase: string(t.Phase), MS: ms(t.Elapsed), Abandoned: session != 0 && t.ID != session}
		if t.Err != nil {
			tj.Error = describe(t.Err)
		}
		r.Timings = append(r.Timings, tj)
	}
	if session == 0 {
		return
	}
	c := log.conn(session)
	r.Server = c.addr
	r.Greeting = c.greeting.String()
	r.Security = c.security.String()
	if st := c.tls; st != nil {
		t := &tlsJSON{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite), Certificates: []certJSON{}}
		now := time.Now()
		for _, cert := range st.PeerCertificates {
			t.Certificates = append(t.Certificates, newCertJSON(cert, now))
		}
		r.TLS = t
	}
	if c.refusedByDefault() {
		for _, h := range plaintextHints {
			r.Hints = append(r.Hints, flagHint(h))
		}
	}
	caps := c.caps
	r.ESMTP = caps.ESMTP()
	r.Capabilities = append(r.Capabilities, caps.Lines()...)
	if limit, ok := caps.Size(); ok {
		r.SizeLimit = &limit
	}
	r.AuthMechanisms = append(r.AuthMechanisms, caps.AuthMechanisms()...)
}

// printProbe prints what the events say of the session's connection.
func printProbe(out io.Writer, log *eventLog, session uint64, asked smtpkit.Security, total time.Duration) {
	c := log.conn(session)
	fmt.Fprintf(out, "Server:       %s\n", c.addr)
	fmt.Fprintf(out, "Greeting:     %s\n", c.greeting)
	fmt.Fprintf(out, "Security:     %s (asked for %s)\n", c.security, asked)
	if c.refusedByDefault() {
		hints := make([]string, len(plaintextHints))
		for i, h := range plaintextHints {
			hints[i] = flagHint(h)
		}
		fmt.Fprintf(out, "Note:         the server offers no TLS, so the default --security %s refuses it;\n"+
			"              reach it with %s\n", commandDefaults.security, strings.Join(hints, ", or "))
	}
	if st := c.tls; st != nil {
		fmt.Fprintf(out, "TLS:          %s, %s\n", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
		printChain(out, st.PeerCertificates, "")
	}
	caps := c.caps
	switch limit, ok := caps.Size(); {
	case !ok:
		fmt.Fprintln(out, "Size limit:   not announced (no SIZE)")
	case limit == 0:
		fmt.Fprintln(out, "Size limit:   none (SIZE 0)")
	default:
		fmt.Fprintf(out, "Size limit:   %s (%d bytes)\n", humanBytes(limit), limit)
	}
	if mechs := caps.AuthMechanisms(); len(mechs) > 0 {
		fmt.Fprintf(out, "AUTH:         %s\n", strings.Join(mechs, " "))
	} else {
		fmt.Fprintln(out, "AUTH:         none offered")
	}
	if !caps.ESMTP() {
		fmt.Fprintln(out, "Capabilities: none (the server accepted only HELO)")
	} else {
		fmt.Fprintln(out, "Capabilities:")
		for _, l := range caps.Lines() {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
	fmt.Fprintln(out, "Timings:")
	for _, t := range log.phases() {
		note := ""
		if t.ID != session {
			note = "  (mode detection, abandoned"
			if t.Err != nil {
				note += ": " + describe(t.Err)
			}
			note += ")"
		}
		fmt.Fprintf(out, "  #%d %-9s %8.2f ms%s\n", t.ID, t.Phase, ms(t.Elapsed), note)
	}
	fmt.Fprintf(out, "     %-9s %8.2f ms\n", "total", ms(total))
}

// printChain prints each certificate the server sent, its own first; a
// verdict, when not "", follows the count.
func printChain(out io.Writer, chain []*x509.Certificate, verdict string) {
	if verdict != "" {
		verdict = ", " + verdict
	}
	switch len(chain) {
	case 0:
		fmt.Fprintf(out, "Certificates: none%s\n", verdict)
		return
	case 1:
		fmt.Fprintf(out, "Certificates: 1, the server's own%s\n", verdict)
	default:
		fmt.Fprintf(out, "Certificates: %d, the server's own first%s\n", len(chain), verdict)
	}
	now := time.Now()
	for i, cert := range chain {
		fmt.Fprintf(out, "  [%d] subject: %s\n", i, cert.Subject)
		fmt.Fprintf(out, "      issuer:  %s\n", cert.Issuer)
		validity := ""
		switch {
		case now.After(cert.NotAfter):
			validity = " (EXPIRED)"
		case now.Before(cert.NotBefore):
			validity = " (NOT YET VALID)"
		default:
			validity = fmt.Sprintf(" (expires in %d days)", daysLeft(cert, now))
		}
		fmt.Fprintf(out, "      valid:   %s to %s%s\n", cert.NotBefore.UTC().Format(time.DateOnly),
			cert.NotAfter.UTC().Format(time.DateOnly), validity)
		if len(cert.DNSNames) > 0 {
			fmt.Fprintf(out, "      names:   %s\n", strings.Join(cert.DNSNames, ", "))
		}
		fmt.Fprintf(out, "      SHA-256: %s\n", certFingerprint(cert))
	}
}

// refusedByDefault reports whether the session went on in plaintext
// because the server offers no TLS, which the default security refuses: as
// SecurityChosen says, or, when the mode asked for never looked, as the
// capabilities say.
func (st connState) refusedByDefault() bool {
	return st.security == smtpkit.SecurityNone && (st.noTLS || !st.caps.StartTLS())
}

// setTrusted records whether the certificate of a session was verified.
func (t *tlsJSON) setTrusted(s *session) {
	if t != nil {
		t.Trusted = !s.acct.TLSInsecureSkipVerify || len(s.opts.TLS.Fingerprints) > 0
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// certFingerprint returns the SHA-256 of the certificate, as AB:CD:...
func certFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return fingerprint(sum[:])
}

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
