// Command smtpkit reaches SMTP servers, reports what it finds, and sends mail.
//
//	smtpkit probe mail.example.com:587     # security mode, TLS, certificates, capabilities, timings
//	smtpkit probe --demo                   # the same against an embedded local server
//	smtpkit check --account work           # log in with an account of ~/.msmtprc, send nothing
//	smtpkit send --account work --to you@example.org --subject Hi --body Hello
//	smtpkit sendmail -t -i < message       # a drop-in for /usr/sbin/sendmail (also as a link named sendmail)
//	smtpkit queue run --account work       # send what waits in the queue (as sendmail -q)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
  sendmail  a drop-in for /usr/sbin/sendmail, also run by a link named sendmail;
            it queues what the server cannot take now
  queue     the messages waiting for a later attempt: list, run, show, retry,
            delete (send --queue and sendmail put them there)
  modes     the security modes found for servers, remembered across runs

  smtpkit man DIR                     writes the manual pages into DIR
  smtpkit completion bash|zsh|fish    prints shell completion (see its --help)
  smtpkit --version                   the module version and VCS revision

Settings come from flags, then the environment (SMTPKIT_HOST, SMTPKIT_USER,
SMTPKIT_PASSWORD, SMTPKIT_URL, ...), then an account of a configuration file
(smtpkit's TOML, msmtp's ~/.msmtprc, or a .NET App.config): flags >
environment > file. See smtpkit help probe for the details.

The embedded demo server (probe --demo, check --demo, send --demo) needs no
network: it offers STARTTLS, a login (user ` + demoUser + `, password ` + demoPassword + `),
and refuses mail to ` + demoRefused + `.

-v prints the protocol dialogue, swaks style: " -> " and "<-  " for what the
client and the server said in plaintext, " ~> " and "<~  " once TLS is up,
"<** " (and "<~* ") for a 4xx or 5xx reply, "=== " for information, "*** "
for errors. Passwords are never shown. --json prints one JSON object.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{flagError(err)} })
	root.Version = version()
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newProbeCommand(), newCheckCommand(), newSendCommand(), newSendmailCommand(), newQueueCommand(),
		newModesCommand(), newManCommand())
	return root
}

// passwordFlags are the flags other tools take a password with.
var passwordFlags = map[string]bool{"password": true, "pass": true, "passwd": true, "auth-password": true, "pw": true}

// flagError adds to an error of the flags what a user of other tools needs
// to know: where a password can come from, since no flag takes it.
func flagError(err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) && passwordFlags[ne.GetSpecifiedName()] {
		return fmt.Errorf("%w: no flag takes a password, which would show in the process list to every user "+
			"of this machine; it comes from an environment variable (--password-env VAR, by default "+
			"$SMTPKIT_PASSWORD), standard input (--password-stdin), the configuration file (password_command, "+
			"password_env), or $SMTPKIT_URL (smtp://user:password@host)", err)
	}
	return err
}

// version says which build this is: the module's version and the VCS
// revision the build information holds, and the Go release.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "smtpkit (no build information), " + runtime.Version()
	}
	v := "smtpkit " + info.Main.Version
	var rev, at string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		v += ", revision " + rev
		if at != "" {
			v += " of " + at
		}
		if modified {
			v += " with local changes"
		}
	}
	return v + ", built with " + runtime.Version()
}
