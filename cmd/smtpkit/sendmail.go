package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
	smtpmessage "github.com/smtpkit/smtpkit/message"
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
  --              what follows are recipients, even when they start with -
Accepted and ignored: -bm, -m, -n, -U, -G, -o OPTION (-odi, -oem, -oQ...),
-B TYPE, -N DSN, -R RET, -V ENVID, -X FILE, -L TAG, -h HOPS, -p PROTO, -d.
Refused: -bs, -bd, -bp, -bi and other modes, -q: there is no queue.

The Bcc field is always removed. A message without From, Date or
Message-ID gets one. Nothing is printed when the message was accepted.

`

func newSendmailCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:                "sendmail [options] [--] [RECIPIENT...]",
		Short:              "A drop-in for /usr/sbin/sendmail: send the message on standard input",
		Long:               sendmailHelp + sysexitsHelp,
		Example:            "  printf 'Subject: hi\\n\\nHello\\n' | smtpkit sendmail -t -i -f me@example.com you@example.org\n  ln -s $(command -v smtpkit) /usr/sbin/sendmail    # then: sendmail -t < message",
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
					if opt, err = value(); err == nil && opt == "i" {
						a.ignoreDots = true
					}
				case 'b':
					var mode string
					if mode, err = value(); err == nil && mode != "m" {
						return nil, usage("-b%s is not supported: this sendmail only sends mail (-bm)", mode)
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
				case 'B', 'N', 'R', 'V', 'X', 'L', 'h', 'p', 'A', 'O':
					_, err = value()
				case 'd':
					j = len(letters)
				case 'q':
					return nil, usage("-q is not supported: this sendmail has no queue, it sends at once")
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

// sysexitsError makes the exit code the sysexits one.
type sysexitsError struct{ error }

func (e sysexitsError) Unwrap() error { return e.error }

// runSendmail sends the message on stdin as sendmail's args say.
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
	if !a.readRecipients && len(recipients) == 0 {
		return usageError{errors.New("no recipient: give the addresses as arguments, or -t to read them from the To, Cc and Bcc fields")}
	}
	src := &sources{
		account: a.account, accountGiven: a.accountGiven,
		configFile: a.config, configGiven: a.configGiven,
		url: a.url,
	}
	cf := &connFlags{defaults: defaults{security: smtpkit.SecurityTLSAuto, commandTimeout: smtpkit.DefaultCommandTimeout}, verbose: a.verbose}
	s, err := cf.session(ctx, src, loginAsAccount, stdout, stderr)
	if errors.Is(err, errNoServer) {
		return configError{errors.New("no account: write ~/.msmtprc or ~/.config/smtpkit/config.toml, " +
			"or give --config FILE, --url URL, or set SMTPKIT_CONFIG, SMTPKIT_URL or SMTPKIT_HOST")}
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

	if tr != nil {
		tr.info("Trying %s (security %s)", s.addr(), s.opts.Security)
	}
	c, err := s.dialer().Dial(ctx, s.addr())
	if err != nil {
		return err
	}
	defer c.Quit(ctx)
	res, err := c.Send(ctx, &env, io.MultiReader(bytes.NewReader(h.Bytes()), br))
	if res != nil {
		for _, r := range res.Refused() {
			fmt.Fprintf(stderr, "sendmail: %s refused: %s\n", r.Address, r.Reply)
		}
	}
	if err != nil {
		return err
	}
	if n := len(res.Refused()); n > 0 {
		return &partialError{failed: n, total: len(env.To), what: "recipients"}
	}
	return nil
}
