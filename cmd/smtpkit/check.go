package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
)

// checkFlags are the settings of the check command.
type checkFlags struct {
	conn connFlags
	auth authFlags
}

func newCheckCommand() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check [flags] HOST[:PORT]",
		Short: "Check a login without sending mail",
		Long: `Connect to an SMTP server, log in, and say QUIT: nothing is sent. Reports the
mechanism used, or why the login failed: wrong credentials (exit 28), no
mechanism in common, a password that would have gone out without TLS, or a
connection problem (exit code of the failed phase). The password comes from
an environment variable ($SMTPKIT_PASSWORD unless --password-env says
otherwise) or standard input, never from the command line.`,
		Example: `  SMTPKIT_PASSWORD=... smtpkit check -u me@example.com smtp.example.com:587
  smtpkit check -u me --password-stdin --auth SCRAM-SHA-256 mail.example.com:465 < pw.txt
  smtpkit check -u me@gmail.com --token-env GMAIL_TOKEN smtp.gmail.com:587`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("check takes one address (HOST[:PORT])")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), f, args[0])
		},
	}
	f.conn.register(cmd.Flags())
	f.auth.register(cmd.Flags())
	return cmd
}

func runCheck(ctx context.Context, stdin io.Reader, out io.Writer, f checkFlags, addr string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	opts, err := f.conn.options(out)
	if err != nil {
		return err
	}
	if opts.Auth, err = f.auth.auth(stdin); err != nil {
		return err
	}
	f.conn.warnings(out)
	c, err := smtpkit.Dial(ctx, addr, opts)
	if err != nil {
		if errors.Is(err, smtpkit.ErrAuthFailed) {
			fmt.Fprintf(out, "Login FAILED for %s at %s: the server refused the credentials\n", f.auth.user, addr)
		}
		return err
	}
	fmt.Fprintf(out, "Login OK for %s at %s: %s over %s\n", f.auth.user, c.Addr(), c.AuthMechanism(), describeSecurity(c))
	return c.Quit(ctx)
}

// describeSecurity says how the session is protected, such as "TLS 1.3 (starttls)".
func describeSecurity(c *smtpkit.Client) string {
	if st, ok := c.TLSConnectionState(); ok {
		return fmt.Sprintf("%s (%s)", tls.VersionName(st.Version), c.Security())
	}
	return "no TLS"
}
