package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/internal/queueview"
	smtpmessage "github.com/smtpkit/smtpkit/message"
	"github.com/smtpkit/smtpkit/outbox"
)

const sendmailHelp = `Read a message on standard input and send it, as /usr/sbin/sendmail does,
through the account of a configuration file: --account NAME (or msmtp's -a
NAME), else the file's default account (msmtp's "account default"). The
file is --config FILE (or -C FILE), else $SMTPKIT_CONFIG, else
~/.config/smtpkit/config.toml, else ~/.msmtprc or ~/.config/msmtp/config;
SMTPKIT_HOST, SMTPKIT_URL and the other SMTPKIT_ variables override it,
and --url URL overrides both. A link to the smtpkit binary named sendmail
runs this command with the link's arguments.

Options, sendmail's and msmtp's:
  -t              recipients from the To, Cc and Bcc fields too (with the
                  arguments, as msmtp and Postfix do)
  -i, -oi         a line holding a lone "." does not end the message
                  (without it, such a line ends the input)
  -f ADDR, -fADDR the envelope sender ("<>" for none); also -r ADDR
                  (default: from in the account, else the From field, else
                  USER@HOST)
  -F NAME         the full name for the From field added when the message
                  has none
  -v              print the protocol transcript (secrets redacted)
  -C FILE, --config FILE, -a NAME, --account NAME, --url URL
  --spool DIR     the directory of the queues (see smtpkit queue --help)
  -odq, -odd      queue the message without sending it (also
                  -O DeliveryMode=q); -odi and -odb send at once
  -q              send every message waiting in the account's queue, now,
                  and exit (failures on standard error; -v prints a summary)
  -qINTERVAL      run the queue until interrupted (SIGINT, SIGTERM): each
                  message when it is due, and every INTERVAL the messages
                  other processes queued, such as -q30m (s, m, h, d, w; a
                  bare number is minutes, as in sendmail); also -qpINTERVAL
  -bp             list the account's queue, as mailq does
  --              what follows are recipients, even when they start with -
Accepted and ignored: -bm, -m, -n, -U, -G, -o OPTION (-oem, -oQ...),
-B TYPE, -N DSN, -R RET, -V ENVID, -X FILE, -L TAG, -h HOPS, -p PROTO, -d.
Refused: -bs, -bd, -bi and other modes, and -qI, -qR, -qS (use smtpkit
queue list, retry ID, delete ID).

The Bcc field is always removed. A message without From, Date or
Message-ID gets one. Nothing is printed when the message was accepted.

When the server cannot take the message now (a 4xx reply, a failed
connection, a time limit, a login refused with a 4xx), it is queued, as
msmtpq and nullmailer do: the command exits 0 with a note on standard
error, and sendmail -q (or smtpkit queue run) sends it later; a cron job
or sendmail -q15m running in the background does that. The message is on
disk, synced, before the first attempt begins, so a kill at any moment
loses nothing. A permanent refusal (5xx), a login refused for good or a
certificate that does not verify is not queued: it is reported, with the
exit codes below. Nor is a message that may have been delivered already
(the connection broke after its end and before the server's verdict,
RFC 1047): it exits 75, not queued, since a second attempt could deliver
it twice. An account with queue_on_failure = false (or
SMTPKIT_QUEUE_ON_FAILURE=false) sends without the queue, exiting 75 on a
transient failure; when the queue cannot be written (a read-only home),
the message is sent without it, with a warning.

`

const sendmailExample = `  printf 'Subject: hi\n\nHello\n' | smtpkit sendmail -t -i -f me@example.com you@example.org
  ln -s $(command -v smtpkit) /usr/sbin/sendmail    # then: sendmail -t < message
  sendmail -q                                        # send what waits in the queue, now
  sendmail -q15m &                                   # or keep sending it, in the background`

func newSendmailCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:                "sendmail [options] [--] [RECIPIENT...]",
		Short:              "A drop-in for /usr/sbin/sendmail: send the message on standard input",
		Long:               sendmailHelp + sysexitsHelp + "\n\n" + spoolHelp,
		Example:            sendmailExample,
		DisableFlagParsing: true,
		SilenceUsage:       true,
		SilenceErrors:      true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "--" {
					break
				}
				if a == "--help" {
					return cmd.Help()
				}
			}
			if err := runSendmail(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args); err != nil {
				return sysexitsError{err}
			}
			return nil
		},
	}
	return cmd
}

// invokedAsSendmail reports whether the program was started under the name sendmail.
func invokedAsSendmail(argv0 string) bool {
	name := strings.TrimSuffix(strings.ToLower(filepath.Base(argv0)), ".exe")
	return name == "sendmail"
}

// sendmailArgs are sendmail's options.
type sendmailArgs struct {
	readRecipients bool   // -t
	ignoreDots     bool   // -i, -oi
	from           string // -f, -r
	fromSet        bool
	fullName       string // -F
	verbose        bool   // -v
	account        string
	accountGiven   bool
	config         string
	configGiven    bool
	url            string
	recipients     []string

	spool         string        // --spool
	queueOnly     bool          // -odq, -odd
	runQueue      bool          // -q
	queueInterval time.Duration // -qINTERVAL: run until interrupted
	listQueue     bool          // -bp
}

// parseSendmailArgs reads sendmail's command line by hand: its options are
// single-dash words such as -oi, -f addr and -faddr that pflag would misread.
func parseSendmailArgs(args []string) (*sendmailArgs, error) {
	a := &sendmailArgs{}
	usage := func(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			a.recipients = append(a.recipients, args[i+1:]...)
			return a, nil
		case strings.HasPrefix(arg, "--"):
			name, value, hasValue := strings.Cut(arg[2:], "=")
			next := func() (string, error) {
				if hasValue {
					return value, nil
				}
				if i+1 >= len(args) {
					return "", usage("--%s needs a value", name)
				}
				i++
				return args[i], nil
			}
			var err error
			switch name {
			case "account":
				a.account, err = next()
				a.accountGiven = true
			case "config", "file":
				a.config, err = next()
				a.configGiven = true
			case "url":
				a.url, err = next()
			case "spool":
				a.spool, err = next()
			case "from":
				a.from, err = next()
				a.fromSet = true
			case "read-recipients":
				a.readRecipients = true
			case "verbose":
				a.verbose = true
			default:
				return nil, usage("unknown option --%s (see --help)", name)
			}
			if err != nil {
				return nil, err
			}
		case len(arg) > 1 && arg[0] == '-':
			letters := arg[1:]
			for j := 0; j < len(letters); j++ {
				c, rest := letters[j], letters[j+1:]
				value := func() (string, error) { // the rest of the word, or the next argument
					j = len(letters)
					if rest != "" {
						return rest, nil
					}
					if i+1 >= len(args) {
						return "", usage("-%c needs a value", c)
					}
					i++
					return args[i], nil
				}
				var err error
				switch c {
				case 't':
					a.readRecipients = true
				case 'i':
					a.ignoreDots = true
				case 'v':
					a.verbose = true
				case 'm', 'n', 'U', 'G':
				case 'o':
					var opt string
					if opt, err = value(); err == nil {
						switch {
						case opt == "i":
							a.ignoreDots = true
						case len(opt) > 1 && opt[0] == 'd': // the delivery mode
							a.queueOnly = opt[1] == 'q' || opt[1] == 'd'
						}
					}
				case 'O':
					var opt string
					if opt, err = value(); err == nil {
						if k, v, ok := strings.Cut(opt, "="); ok && strings.EqualFold(strings.TrimSpace(k), "DeliveryMode") && v != "" {
							v = strings.ToLower(strings.TrimSpace(v))
							a.queueOnly = v[0] == 'q' || v[0] == 'd'
						}
					}
				case 'b':
					var mode string
					if mode, err = value(); err == nil {
						switch mode {
						case "m":
						case "p":
							a.listQueue = true
						default:
							return nil, usage("-b%s is not supported: this sendmail sends mail (-bm) and lists its queue (-bp)", mode)
						}
					}
				case 'f', 'r':
					a.from, err = value()
					a.fromSet = true
				case 'F':
					a.fullName, err = value()
				case 'C':
					a.config, err = value()
					a.configGiven = true
				case 'a':
					a.account, err = value()
					a.accountGiven = true
				case 'B', 'N', 'R', 'V', 'X', 'L', 'h', 'p', 'A':
					_, err = value()
				case 'd':
					j = len(letters)
				case 'q':
					a.runQueue = true
					j = len(letters)
					if a.queueInterval, err = queueInterval(rest); err != nil {
						return nil, err
					}
				default:
					return nil, usage("unknown option -%c (see --help)", c)
				}
				if err != nil {
					return nil, err
				}
			}
		default:
			a.recipients = append(a.recipients, arg)
		}
	}
	return a, nil
}

// queueInterval reads what follows sendmail's -q: nothing or "f" (run the
// queue once, in the foreground), or an interval, optionally after "p"
// (persistent), such as "30m" or "1h30m": numbers with the units s, m, h,
// d or w, minutes when the unit is left out, as sendmail reads it. Queue
// selection (-qI, -qR, -qS...) is refused.
func queueInterval(s string) (time.Duration, error) {
	if s == "" || s == "f" {
		return 0, nil
	}
	if strings.ContainsRune("IRSLQ!", rune(s[0])) {
		return 0, usageError{fmt.Errorf("-q%s: this sendmail does not select queued messages; "+
			"smtpkit queue list shows them, smtpkit queue retry ID and delete ID act on one", s)}
	}
	text := strings.TrimPrefix(s, "p")
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	var d time.Duration
	for rest := text; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		unit := time.Minute
		if i < len(rest) {
			u, ok := units[rest[i]]
			if !ok || i == 0 {
				return 0, usageError{fmt.Errorf("-q%s: want an interval such as -q30m or -q1h (units s, m, h, d, w), "+
					"or -q alone to send the queue once", s)}
			}
			unit = u
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > 1<<20 {
			return 0, usageError{fmt.Errorf("-q%s: %q is not a number of minutes, hours...", s, rest[:i])}
		}
		d += time.Duration(n) * unit
		rest = rest[min(i+1, len(rest)):]
	}
	if d <= 0 {
		return 0, usageError{fmt.Errorf("-q%s: the interval must be longer than zero", s)}
	}
	return d, nil
}

// sysexitsError makes the exit code the sysexits one.
type sysexitsError struct{ error }

func (e sysexitsError) Unwrap() error { return e.error }

// errNoAccount is sendmail's word for errNoServer.
var errNoAccount = configError{errors.New("no account: write ~/.msmtprc or ~/.config/smtpkit/config.toml, " +
	"or give --config FILE, --url URL, or set SMTPKIT_CONFIG, SMTPKIT_URL or SMTPKIT_HOST")}

// runSendmail sends the message on stdin as sendmail's args say, or runs
// or lists the queue (-q, -bp).
func runSendmail(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, args []string) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	a, err := parseSendmailArgs(args)
	if err != nil {
		return err
	}
	recipients, err := expandAddresses(a.recipients)
	if err != nil {
		return err
	}
	switch {
	case (a.runQueue || a.listQueue) && (len(recipients) > 0 || a.readRecipients):
		return usageError{errors.New("-q and -bp act on the queue: they take no recipient and read no message")}
	case a.runQueue && a.listQueue:
		return usageError{errors.New("give -q (send the queue) or -bp (list it), not both")}
	case !a.runQueue && !a.listQueue && !a.readRecipients && len(recipients) == 0:
		return usageError{errors.New("no recipient: give the addresses as arguments, or -t to read them from the To, Cc and Bcc fields")}
	}
	src := &sources{
		account: a.account, accountGiven: a.accountGiven,
		configFile: a.config, configGiven: a.configGiven,
		url: a.url,
	}
	cf := &connFlags{defaults: defaults{security: smtpkit.SecurityTLSAuto, commandTimeout: smtpkit.DefaultCommandTimeout}, verbose: a.verbose}
	if a.listQueue {
		return sendmailListQueue(ctx, stdout, src, cf, a)
	}
	s, err := cf.session(ctx, src, loginAsAccount, stdout, stderr)
	if errors.Is(err, errNoServer) {
		return errNoAccount
	}
	if err != nil {
		return err
	}
	if a.verbose {
		printWarnings(stderr, s.file)
	}
	tr := s.transcript
	defer func() {
		if err != nil && tr != nil {
			tr.error(err)
		}
	}()
	account := ""
	if a.accountGiven {
		account = a.account
	}
	config := ""
	if a.configGiven {
		config = a.config
	}
	q := newQueueing(a.spool, s.acct, "sendmail", queueHint(config, account, a.spool, ""))
	if a.runQueue {
		return sendmailRunQueue(ctx, stdout, stderr, s, q, a)
	}

	var in io.Reader = stdin
	if !a.ignoreDots {
		in = newDotReader(stdin)
	}
	br := bufio.NewReader(in)
	h, err := readHeader(br)
	if err != nil {
		if !errors.As(err, new(messageError)) {
			err = inputError{fmt.Errorf("standard input: %w", err)}
		}
		return err
	}
	rule := envelope{to: recipients, fromHeader: a.readRecipients}
	switch {
	case a.fromSet:
		rule.from, rule.fromSet = a.from, true
	case s.acct.From != "":
		rule.from = s.acct.From
	case !h.Has("From") && !h.Has("Sender"):
		rule.from = localSender()
	}
	env, err := rule.of(h)
	if err != nil {
		return err
	}
	h.DelBcc()
	if !h.Has("From") {
		addr := env.From
		if addr == "" {
			addr = localSender()
		}
		if err := h.AddAddresses("From", smtpmessage.Address{Name: a.fullName, Addr: addr}); err != nil {
			return usageError{fmt.Errorf("-F: %w", err)}
		}
	}
	if !h.Has("Date") {
		h.Add("Date", time.Now().Format(time.RFC1123Z))
	}
	if !h.Has("Message-ID") {
		h.Add("Message-ID", smtpmessage.NewMessageID(env.From))
	}
	msg := io.MultiReader(bytes.NewReader(h.Bytes()), br)

	if a.queueOnly {
		id, err := q.enqueueOnly(ctx, &env, msg)
		if err != nil {
			return err
		}
		if tr != nil {
			tr.info("Queued as %s in %s; %s sends it", id, q.dir, q.hint)
		}
		return nil
	}
	if tr != nil {
		tr.info("Trying %s (security %s)", s.addr(), s.opts.Security)
	}
	// The account decides; without a word from it, sendmail queues, as
	// msmtpq and nullmailer do: a program that calls sendmail expects
	// its mail to be taken care of.
	var at *attempt
	if queue := !s.acct.IsSet("queue_on_failure") || s.acct.QueueOnFailure; queue {
		if at, err = q.send(ctx, s, &env, msg, stderr); err != nil {
			return err
		}
	} else {
		at = sendDirect(ctx, s, &env, msg)
		at.judged = judge(len(env.To), at.res, at.err)
		q = nil
	}
	if at.res != nil {
		for i, r := range at.res.Recipients {
			if i < len(at.judged.status) && at.judged.status[i] == outbox.Pending && at.queued != nil {
				continue // queued: the note says so
			}
			if !r.Accepted() && r.Reply.Code != 0 {
				fmt.Fprintf(stderr, "sendmail: %s refused: %s\n", r.Address, r.Reply)
			}
		}
	}
	failed := len(at.judged.with(outbox.Failed))
	switch {
	case at.queued != nil:
		q.note(stderr, at.queued)
		if failed > 0 {
			return &partialError{failed: failed, total: len(env.To), what: "recipients"}
		}
		return nil
	case q != nil && at.judged.doubt:
		fmt.Fprintln(stderr, "sendmail: not queued: the server may have the message already, and a second attempt could deliver it twice")
	}
	if at.err != nil {
		return at.err
	}
	if n := len(at.res.Refused()); n > 0 {
		return &partialError{failed: n, total: len(env.To), what: "recipients"}
	}
	return nil
}

// sendmailListQueue lists the account's queue (-bp), as mailq does.
func sendmailListQueue(ctx context.Context, stdout io.Writer, src *sources, cf *connFlags, a *sendmailArgs) error {
	acct, _, err := src.resolve(cf.defaults)
	if errors.Is(err, errNoServer) {
		return errNoAccount
	}
	if err != nil {
		return err
	}
	dir, err := spoolDir(a.spool, acct)
	if err != nil {
		return err
	}
	sj, err := listSpool(ctx, dir)
	if sj != nil {
		printQueue(stdout, sj)
	}
	return err
}

// sendmailRunQueue sends the account's queue (-q): every message now, or
// with an interval each when due until ctx ends. Failures go to stderr;
// with -v, a summary to stdout. Messages that stay queued are no failure
// of sendmail -q, as with sendmail.
func sendmailRunQueue(ctx context.Context, stdout, stderr io.Writer, s *session, q *queueing, a *sendmailArgs) error {
	spool, err := q.open()
	if err != nil {
		return err
	}
	defer spool.Close()
	qr := &queueRunner{s: s, spool: spool, connections: 4, log: stderr}
	if a.queueInterval > 0 {
		return qr.run(ctx, a.queueInterval, func(e outbox.Entry) { reportEnded(stderr, "sendmail", e, a.verbose) })
	}
	result := &queueRunJSON{}
	err = qr.flush(ctx, result, true, nil)
	for _, e := range result.Failed {
		reportFailed(stderr, "sendmail", e)
	}
	if a.verbose {
		printQueueRun(stdout, result, qr.connections)
	}
	if err != nil {
		return err
	}
	if err := result.failure(); err != nil && !errors.As(err, new(tryLaterError)) {
		return err
	}
	return nil
}

// reportFailed says on w which recipients of an entry failed for good, and why.
func reportFailed(w io.Writer, prog string, e *queueview.Entry) {
	for _, rc := range e.Recipients {
		if rc.Status == string(outbox.Failed) {
			fmt.Fprintf(w, "%s: %s: not delivered to %s: %s\n", prog, e.ID, rc.Address, rc.Why())
		}
	}
}

// reportEnded says on w what became of an entry that left the queue: its
// failures, and with verbose its delivery too.
func reportEnded(w io.Writer, prog string, e outbox.Entry, verbose bool) {
	if len(e.Failed()) > 0 {
		reportFailed(w, prog, queueview.NewEntry(&e))
	} else if verbose {
		fmt.Fprintf(w, "%s: %s: delivered to %s\n", prog, e.ID, strings.Join(e.Envelope.To, ", "))
	}
}
