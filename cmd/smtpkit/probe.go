package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
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
	f.conn.register(cmd.Flags())
	cmd.Flags().BoolVar(&f.demo, "demo", false, "start an embedded local STARTTLS server and probe it")
	return cmd
}

func runProbe(ctx context.Context, out io.Writer, f probeFlags, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	opts, err := f.conn.options(out)
	if err != nil {
		return err
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
	f.conn.warnings(out)
	report(out, c, opts.Security, timings, total)
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
