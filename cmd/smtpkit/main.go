// Command smtpkit reaches SMTP servers, reports what it finds, and sends mail.
//
//	smtpkit probe mail.example.com:587     # security mode, TLS, certificates, capabilities, timings
//	smtpkit probe --demo                   # the same against an embedded local server
//	smtpkit check --account work           # log in with an account of ~/.msmtprc, send nothing
//	smtpkit send --account work --to you@example.org --subject Hi --body Hello
//	smtpkit sendmail -t -i < message       # a drop-in for /usr/sbin/sendmail (also as a link named sendmail)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs the command line argv and returns the exit code. Under the
// name sendmail, the arguments are sendmail's.
func runMain(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, name := newRootCommand(), "smtpkit"
	if len(argv) > 0 && invokedAsSendmail(argv[0]) {
		cmd, name = newSendmailCommand(), "sendmail"
	}
	if len(argv) > 0 {
		cmd.SetArgs(argv[1:])
	}
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		if strings.HasPrefix(err.Error(), "unknown command ") {
			err = usageError{err} // cobra's, untyped
		}
		fmt.Fprintf(stderr, "%s: %s\n", name, strings.ReplaceAll(describe(err), "\n", "\n"+name+": "))
		return exitCode(err)
	}
	return exitOK
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "smtpkit",
		Short: "Reach SMTP servers in every security mode, see what they offer, and send mail",
		Long: `smtpkit reaches SMTP servers in every security mode (implicit TLS, STARTTLS,
detected, or plaintext), with a time limit on every step, and never falls
back to plaintext silently.

  probe     what a server offers: TLS, certificates, size limit, AUTH, timings
  check     log in without sending mail: is this account right?
  send      send a message (a file, standard input, or composed from flags),
            or many from a directory or an mbox over a pool of connections
  sendmail  a drop-in for /usr/sbin/sendmail, also run by a link named sendmail

Settings come from flags, then the environment (SMTPKIT_HOST, SMTPKIT_USER,
SMTPKIT_PASSWORD, SMTPKIT_URL, ...), then an account of a configuration file
(smtpkit's TOML, msmtp's ~/.msmtprc, or a .NET App.config): flags >
environment > file. See smtpkit help probe for the details.

-v prints the protocol dialogue, swaks style: " -> " and "<-  " for what the
client and the server said in plaintext, " ~> " and "<~  " once TLS is up,
"<** " (and "<~* ") for a 4xx or 5xx reply, "=== " for information, "*** "
for errors. Passwords are never shown. --json prints one JSON object.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newProbeCommand(), newCheckCommand(), newSendCommand(), newSendmailCommand(), newModesCommand())
	return root
}
