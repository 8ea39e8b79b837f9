// Command smtpkit-outbox manages smtpkit's outbox in a PostgreSQL database
// (package github.com/smtpkit/smtpkit/outbox/postgres): it creates its
// tables, queues messages, lists, shows, retries and deletes them, and
// delivers them to an SMTP server, as "smtpkit queue" does for a spool
// directory.
//
//	smtpkit-outbox migrate                      # create the tables, or bring them to this version
//	smtpkit-outbox enqueue -t message.eml       # the envelope from the header, as sendmail -t
//	smtpkit-outbox enqueue --from a@example.com --to b@example.org < message.eml
//	smtpkit-outbox list [--json]
//	smtpkit-outbox show|retry|delete ID
//	smtpkit-outbox run --server mail.example.com:587 [--security starttls] [--user NAME]
//
// Every command takes the database's URL from --url or $SMTPKIT_OUTBOX_URL,
// such as "postgres://user:pass@host:5432/db?search_path=mail" (the tables
// live in the first schema of the search_path, "public" by default), and
// prints one JSON object with --json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// name is the command's name, which begins its error messages.
const name = "smtpkit-outbox"

// urlEnv holds the database's URL when --url is not given.
const urlEnv = "SMTPKIT_OUTBOX_URL"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// env is what a command reads and writes besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

const usage = `usage: smtpkit-outbox COMMAND [flags] [args]

Commands:
  migrate [URL]        create the outbox's tables, or bring them to this version
  enqueue [FILE]       queue a message (FILE, or standard input): --from and --to,
                       or -t to take the envelope from its header as sendmail -t does
  list                 the messages waiting, oldest first
  show ID              one message: envelope, each recipient, the header
  retry ID             make a message due now
  delete ID            remove a message without sending it
  run --server H:P     send what waits, now (--due: only what is due; --watch: keep
                       sending as messages arrive, until interrupted)

Every command takes the database from --url or $SMTPKIT_OUTBOX_URL, a PostgreSQL
URL such as postgres://user:pass@host/db?search_path=mail, and prints one JSON
object with --json. "smtpkit-outbox COMMAND -h" lists a command's flags.

Exit codes: 0 success; 1 another failure; 3 run: some messages failed for good,
others were delivered; 64 a mistake in the command line, or no such entry;
65 a message that cannot be sent as it is; 66 an input file that cannot be
read; 69 run: messages failed for good, none delivered; 75 run: messages stay
queued for a later attempt, retry/delete: the message is being sent, or the
database cannot be reached now; 78 configuration: no URL, a bad URL, a database
that refuses the login or lacks the outbox's tables.
`

// commands maps each command to its function.
var commands = map[string]func(ctx context.Context, e *env, args []string) error{
	"migrate": runMigrate,
	"enqueue": runEnqueue,
	"list":    runList,
	"show":    runShow,
	"retry":   func(ctx context.Context, e *env, args []string) error { return runID(ctx, e, "retry", args) },
	"delete":  func(ctx context.Context, e *env, args []string) error { return runID(ctx, e, "delete", args) },
	"run":     runRun,
}

// runMain runs the command line args (without the program's name) and
// returns the exit code.
func runMain(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "%s: unknown command %q (want migrate, enqueue, list, show, retry, delete or run)\n", name, args[0])
		return exitUsage
	}
	err := cmd(ctx, e, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		prefix := name + " " + args[0] + ": "
		fmt.Fprintf(e.stderr, "%s%s\n", prefix, strings.ReplaceAll(err.Error(), "\n", "\n"+prefix))
	}
	return exitCode(err)
}

// common are the flags of every command.
type common struct {
	url  string
	json bool
}

// flagSet is the flags of a command, and how to print its help.
type flagSet struct {
	*flag.FlagSet
	help func()
}

// flags returns the flag set of the command cmd, with the common flags;
// -h prints its help, on standard output.
func (c *common) flags(e *env, cmd, args, what string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name+" "+cmd, flag.ContinueOnError)}
	fs.SetOutput(io.Discard) // the errors are returned, and printed once
	fs.Usage = func() {}
	fs.help = func() {
		fmt.Fprintf(e.stdout, "usage: %s %s [flags] %s\n\n%s\n\nFlags:\n", name, cmd, args, what)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fs.StringVar(&c.url, "url", "", "the database, a PostgreSQL URL (default: $"+urlEnv+")")
	fs.BoolVar(&c.json, "json", false, "print the result as one JSON object")
	return fs
}

// parse parses args with fs, flags before and after the arguments, and
// checks that there are between min and max arguments.
func parse(fs *flagSet, args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, err
			}
			return nil, usageError{fmt.Errorf("%w (%s -h lists the flags)", err, fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	switch {
	case len(pos) < min || len(pos) > max:
		want := fmt.Sprintf("%d to %d arguments", min, max)
		switch {
		case max == 0:
			want = "no argument"
		case min == max && min == 1:
			want = "one argument"
		case min == 0 && max == 1:
			want = "at most one argument"
		}
		return nil, usageError{fmt.Errorf("%s takes %s, not %d (%s)", fs.Name(), want, len(pos), strings.Join(pos, " "))}
	}
	return pos, nil
}

// databaseURL returns the URL of --url, else of the environment.
func (c *common) databaseURL(e *env) (string, error) {
	if c.url != "" {
		return c.url, nil
	}
	if u := e.getenv(urlEnv); u != "" {
		return u, nil
	}
	return "", configError{fmt.Errorf("no database: give --url or set $%s to a PostgreSQL URL "+
		"such as postgres://user:pass@host/db?search_path=mail", urlEnv)}
}
