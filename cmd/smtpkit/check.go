package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// checkFlags are the settings of the check command.
type checkFlags struct {
	conn connFlags
	auth authFlags
	json bool
	demo bool
}

func newCheckCommand() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check [flags] [HOST[:PORT]]",
		Short: "Check a login (and an account of a configuration file) without sending mail",
		Long: `Connect to an SMTP server, log in, and say QUIT: nothing is sent. Reports the
account used, the mechanism, or why the login failed: wrong credentials
(exit 28), no mechanism in common, a password that would have gone out
without TLS, a bad configuration file or password command (exit 78), or a
connection problem (exit code of the failed phase). Without HOST the
server and the login come from an account: check --account work tests an
account of ~/.msmtprc or of smtpkit's own file as it stands.

The password comes from the account (password, password_command,
password_env), an environment variable ($SMTPKIT_PASSWORD, or the one
--password-env names) or standard input (--password-stdin), never from the
command line (--password is refused, with where a password can come from).

With --demo, check logs in to an embedded STARTTLS server, as ` + demoUser + `
(password ` + demoPassword + `) unless --user names another: no network needed.

With --json the result is one JSON object on standard output:
  {"command": "check", "ok": true, "server": "host:port", "account": "work",
   "user": "alice", "mechanism": "SCRAM-SHA-256", "security": "starttls",
   "tls_version": "TLS 1.3", "error": {...}, "exit_code": 0}

` + settingsHelp,
		Example: `  smtpkit check --demo -v       # log in to an embedded local server: no network needed
  SMTPKIT_PASSWORD=wrong smtpkit check --demo -u demo --password-env SMTPKIT_PASSWORD   # a refused login
  SMTPKIT_PASSWORD=... smtpkit check -u me@example.com smtp.example.com:587
  smtpkit check -u me --password-stdin --auth SCRAM-SHA-256 mail.example.com:465 < pw.txt
  smtpkit check -u me@gmail.com --token-env GMAIL_TOKEN smtp.gmail.com:587
  smtpkit check --account work                 # the default file's account "work"
  smtpkit check --config ~/smtpkit.toml --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.demo && len(args) > 0:
				return usageError{errors.New("check --demo takes no address: it logs in to the embedded demo server")}
			case len(args) > 1:
				return usageError{errors.New("check takes one address (HOST[:PORT]), or none to use an account")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, args)
		},
	}
	f.conn.register(cmd.Flags())
	f.auth.register(cmd.Flags())
	cmd.Flags().BoolVar(&f.json, "json", false, "print the result as one JSON object")
	cmd.Flags().BoolVar(&f.demo, "demo", false, "log in to an embedded local STARTTLS server, as "+demoUser+
		" unless --user says otherwise (a wrong login is refused, as a real server would)")
	return cmd
}

// checkJSON is the result of check --json.
type checkJSON struct {
	Command string `json:"command"`
	outcomeJSON
	Server     string `json:"server,omitempty"`
	Account    string `json:"account,omitempty"`
	File       string `json:"file,omitempty"`
	User       string `json:"user,omitempty"`
	Mechanism  string `json:"mechanism,omitempty"`
	Security   string `json:"security,omitempty"`
	TLSVersion string `json:"tls_version,omitempty"`
}

func runCheck(ctx context.Context, stdin io.Reader, out, errOut io.Writer, f *checkFlags, args []string) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	result := &checkJSON{Command: "check"}
	var tr *transcript
	defer func() {
		if err != nil && tr != nil {
			tr.error(err)
		}
		if f.json {
			printOutcome(out, result, &err)
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
	if err := f.auth.addTo(src, stdin); err != nil {
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
	s, err := f.conn.session(ctx, src, loginAlways, transcriptOut, errOut)
	if err != nil {
		return err
	}
	tr = s.transcript
	printWarnings(errOut, s.file)
	if f.demo {
		s.opts.TLSConfig = smtptest.ClientTLSConfig()
	}
	result.Server, result.User = s.addr(), s.acct.User
	if s.file != nil {
		result.Account, result.File = s.acct.Name, s.file.Name
	}
	if !f.json {
		if s.file != nil {
			fmt.Fprintf(out, "Account:      %q of %s\n", s.acct.Name, s.file.Name)
		}
		s.warnings(out)
	}
	if tr != nil {
		tr.info("Trying %s (security %s)", s.addr(), s.opts.Security)
	}
	c, err := s.dialer().Dial(ctx, s.addr())
	if err != nil {
		if errors.Is(err, smtpkit.ErrAuthFailed) && !f.json {
			fmt.Fprintf(out, "Login FAILED for %s at %s: the server refused the credentials\n", s.acct.User, s.addr())
		}
		return err
	}
	st := s.events.conn(c.ConnID())
	result.Mechanism, result.Security = st.login, st.security.String()
	if st.tls != nil {
		result.TLSVersion = tls.VersionName(st.tls.Version)
	}
	if !f.json {
		fmt.Fprintf(out, "Login OK for %s at %s: %s over %s\n", s.acct.User, st.addr, st.login, st.describeSecurity())
	}
	return c.Quit(ctx)
}
