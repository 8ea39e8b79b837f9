package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/internal/queueview"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/smtptest"
)

// sendFlags are the settings of the send command.
type sendFlags struct {
	conn connFlags
	auth authFlags

	from        string
	to, cc, bcc []string
	subject     string
	body        string
	bodyFile    string
	attach      []string
	headers     []string

	dir         string
	mbox        string
	connections int
	noProgress  bool

	json       bool
	demo       bool
	allowEmpty bool

	queue bool
	spool string
}

func newSendCommand() *cobra.Command {
	var f sendFlags
	cmd := &cobra.Command{
		Use:   "send [flags] [FILE|-]",
		Short: "Send a message from a file or standard input, composed from flags, or many from a directory or an mbox",
		Long: `Send one message, or many over a pool of connections.

One message comes from FILE, from standard input (FILE "-" or none), or is
composed from flags: --subject, --body or --body-file, --header and
--attach (repeatable). A composed message has From, To, Cc, Subject, Date
and Message-ID fields, a text/plain body, and with attachments is a MIME
multipart/mixed message whose attachments are base64 (an attached .eml
message goes as message/rfc822 when it is 7-bit, else as a file).
--header Reply-To, Message-ID and Date set those fields.

Many messages come from --dir DIR (every *.eml file, in name order) or
--mbox FILE (split at its "From " lines, ">From " unescaped), and go over up
to --connections connections at once, pipelined when the server allows. A
progress bar shows on standard error when it is a terminal; a summary
follows: how many messages were accepted, and the refusals grouped by the
server's reply.

The envelope: the sender is --from, else from in the account (environment
SMTPKIT_FROM, or the file), else the message's From field; the recipients
are --to, --cc and --bcc, else the message's To, Cc and Bcc fields. The Bcc
field is never sent. A file's message is sent as it is otherwise.

Exit code 3 means some messages or recipients were refused and others
accepted; when all failed, the code is that of the first failure's phase.

With --json the result is one JSON object on standard output, for one
message as for many (the transcript of -v then goes to standard error):
  {"command": "send", "ok": false, "server": "host:port",
   "messages": [{"source": "a.eml", "from": "...", "to": [...], "ok": true,
     "accepted": [...], "refused": [{"address": "...", "code": 550,
     "enhanced": "5.1.1", "text": "..."}], "reply": {"code": 250, "text": "..."},
     "error": {"phase": "rcpt", "code": 550, "message": "...", "exit_code": 24}}],
   "summary": {"messages": 2, "sent": 1, "failed": 1, "recipients_accepted": 1,
     "recipients_refused": 1, "refusals": [{"reply": "550 5.1.1 ...",
     "phase": "rcpt", "count": 1, "examples": ["b.eml: bob@example.org"]}]},
   "error": {...}, "exit_code": 3}
"sent" counts messages the server took for at least one recipient, "ok"
those it took for all; "recipients_accepted" counts the recipients of the
messages sent. A recipient the server never answered (the connection
failed first) is listed in "unanswered", not among the refusals.

With --queue (or queue_on_failure = true in the account), a message the
server cannot take now (a 4xx reply, a failed connection, a time limit, a
login refused with a 4xx) waits in the account's queue, and the command
exits 0 with a note on standard error: smtpkit queue run sends it later
(see smtpkit queue --help). One message is written to the queue, synced,
before the first attempt, so a crash at any moment loses nothing; with
--dir and --mbox, the messages that failed that way are queued after the
run, and the summary says how many ("queued"). Recipients the server
accepted or refused for good are not queued; nor is a 5xx, a login
refused for good, a certificate that does not verify, or a message that
may have been delivered already (the connection broke after its end and
before the verdict): a second attempt could deliver it twice. Each queued
message's JSON has "queued": {"id", "recipients", "reason", "spool"}, and
the summary "queued" and "recipients_queued".

An empty message (an empty file or standard input, or white space alone)
is refused with exit 65 unless --allow-empty: more often than not it is a
mistake upstream. The final reply is shown whole, every line of it.

With --demo, "demo_received" lists what the demo server received:
{"from", "to", "tls", "user", "data"}. The demo server logs the command in
as ` + demoUser + ` and refuses mail to ` + demoRefused + `.

` + settingsHelp + "\n\n" + spoolHelp,
		Example: `  smtpkit send --server mail.example.com:587 -u me --from me@example.com --to you@example.org message.eml
  smtpkit send --account work --to you@example.org --subject Report --body-file report.txt --attach report.pdf
  some-program | smtpkit send --account work -        # envelope from the message's From, To, Cc, Bcc
  smtpkit send --account work --dir outbox/ --connections 8 --json > result.json
  smtpkit send --account work --mbox sent.mbox
  smtpkit send --account work --queue message.eml   # queued if the server is away; smtpkit queue run sends it
  smtpkit send --demo -v      # send to an embedded local server and show what it received`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{errors.New("send takes at most one FILE (or - for standard input)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSend(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, args)
		},
	}
	fl := cmd.Flags()
	f.conn.register(fl)
	f.auth.register(fl)
	fl.StringVar(&f.from, "from", "", "the sender, such as me@example.com or \"Me <me@example.com>\" (default: from in the account, else the message's From)")
	fl.StringArrayVar(&f.to, "to", nil, "a recipient (repeatable, or a comma-separated list)")
	fl.StringArrayVar(&f.cc, "cc", nil, "a recipient shown in the Cc field of a composed message (repeatable)")
	fl.StringArrayVar(&f.bcc, "bcc", nil, "a recipient shown in no field (repeatable)")
	fl.StringVar(&f.subject, "subject", "", "compose a message with this subject")
	fl.StringVar(&f.body, "body", "", "compose a message with this text")
	fl.StringVar(&f.bodyFile, "body-file", "", "compose a message with the text of this file (- for standard input)")
	fl.StringArrayVar(&f.attach, "attach", nil, "compose a message with this file attached (repeatable)")
	fl.StringArrayVar(&f.headers, "header", nil, "add this field, such as \"Reply-To: me@example.com\", to a composed message (repeatable)")
	fl.StringVar(&f.dir, "dir", "", "send every *.eml file of this directory")
	fl.StringVar(&f.mbox, "mbox", "", "send every message of this mbox file")
	fl.IntVar(&f.connections, "connections", 4, "with --dir or --mbox: connections used at once")
	fl.BoolVar(&f.noProgress, "no-progress", false, "with --dir or --mbox: no progress bar, even on a terminal")
	fl.BoolVar(&f.allowEmpty, "allow-empty", false, "send a message even when it is empty (no header, no body)")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fl.BoolVar(&f.queue, "queue", false, "when the server cannot take a message now (4xx, a failed connection, a time limit), "+
		"keep it in the queue for smtpkit queue run (default: queue_on_failure in the account)")
	fl.StringVar(&f.spool, "spool", "", "with --queue: the directory of the queues (default: $SMTPKIT_SPOOL, "+
		"else /var/spool/smtpkit for root, else $XDG_STATE_HOME/smtpkit/queue)")
	fl.BoolVar(&f.demo, "demo", false, "send to an embedded local STARTTLS server, logged in as "+demoUser+
		", and show what it received (it refuses "+demoRefused+")")
	return cmd
}

// sendJSON is the result of send --json.
type sendJSON struct {
	Command string `json:"command"`
	outcomeJSON
	Demo     bool           `json:"demo,omitempty"`
	Server   string         `json:"server,omitempty"`
	Messages []*messageJSON `json:"messages"`
	Summary  summaryJSON    `json:"summary"`
	Received []receivedJSON `json:"demo_received,omitempty"`
}

type messageJSON struct {
	Source   string        `json:"source"`
	From     string        `json:"from"`
	To       []string      `json:"to"`
	OK       bool          `json:"ok"`
	Accepted []string      `json:"accepted"`
	Refused  []refusalJSON `json:"refused"`
	// Unanswered are the recipients the server never replied to: the
	// connection failed first. They were not refused.
	Unanswered []string         `json:"unanswered,omitempty"`
	Reply      *queueview.Reply `json:"reply,omitempty"`
	Error      *errorJSON       `json:"error,omitempty"`
	// Queued says which recipients wait in the queue, and why.
	Queued *queuedJSON `json:"queued,omitempty"`

	err error
}

type refusalJSON struct {
	Address  string `json:"address"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"`
	Text     string `json:"text"`
}

type summaryJSON struct {
	Messages           int          `json:"messages"`
	Sent               int          `json:"sent"`
	Failed             int          `json:"failed"`
	RecipientsAccepted int          `json:"recipients_accepted"`
	RecipientsRefused  int          `json:"recipients_refused"`
	Queued             int          `json:"queued"`
	RecipientsQueued   int          `json:"recipients_queued"`
	Refusals           []*groupJSON `json:"refusals"`
}

// groupJSON is the refusals and failures that share a reply (or an error).
type groupJSON struct {
	Reply    string   `json:"reply"`
	Phase    string   `json:"phase,omitempty"`
	Count    int      `json:"count"`
	Examples []string `json:"examples"`
}

type receivedJSON struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	TLS  bool     `json:"tls"`
	User string   `json:"user,omitempty"`
	Data string   `json:"data"`
}

// maxExamples bounds the examples of a group.
const maxExamples = 5

func runSend(ctx context.Context, stdin io.Reader, out, errOut io.Writer, f *sendFlags, args []string) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	result := &sendJSON{Command: "send", Demo: f.demo, Messages: []*messageJSON{}, Summary: summaryJSON{Refusals: []*groupJSON{}}}
	var tr *transcript
	defer func() {
		if err != nil && tr != nil {
			tr.error(err)
		}
		if f.json {
			printOutcome(out, result, &err)
		}
	}()
	fl := f.conn.fs
	compose := fl.Changed("subject") || fl.Changed("body") || fl.Changed("body-file") || fl.Changed("attach") || fl.Changed("header")
	bulk := f.dir != "" || f.mbox != ""
	file := ""
	if len(args) > 0 {
		file = args[0]
	}
	switch {
	case f.dir != "" && f.mbox != "":
		return usageError{errors.New("give --dir or --mbox, not both")}
	case bulk && (compose || file != ""):
		return usageError{errors.New("--dir and --mbox send the messages they hold: they take no FILE, --subject, --body or --attach")}
	case compose && file != "":
		return usageError{errors.New("send a FILE, or compose a message with --subject, --body, --attach: not both")}
	case fl.Changed("body") && fl.Changed("body-file"):
		return usageError{errors.New("give --body or --body-file, not both")}
	case f.connections < 1:
		return usageError{errors.New("--connections: want 1 or more")}
	case file != "" && file != "-" && !fl.Changed("server") && looksLikeServer(file) && !exists(file):
		return usageError{fmt.Errorf("there is no file %q; did you mean --server %s? "+
			"(send takes the message's FILE as its argument, the server with --server)", file, file)}
	}
	if f.demo && !compose && !bulk && file == "" {
		compose = true
		f.subject = "Hello from smtpkit"
		f.body = "This message went to the embedded demo server, through smtpkit's Client.Send.\n"
	}
	readsStdin := !compose && !bulk && (file == "" || file == "-") || f.bodyFile == "-"
	if readsStdin && f.auth.passwordStdin {
		return usageError{errors.New("--password-stdin cannot be used when the message comes from standard input")}
	}

	src, err := f.conn.sources("")
	if err != nil {
		return err
	}
	if err := f.auth.addTo(src, stdin); err != nil {
		return err
	}
	if fl.Changed("from") {
		src.sets = append(src.sets, setting{"from", "from", f.from})
	}
	if fl.Changed("queue") {
		src.sets = append(src.sets, setting{"queue", "queue_on_failure", strconv.FormatBool(f.queue)})
	}
	var demo *smtptest.Server
	if f.demo {
		demo = startDemo()
		defer demo.Close()
		useDemo(src, demo)
		if compose && !fl.Changed("from") {
			src.sets = append(src.sets, setting{"from", "from", "Demo Sender <sender@example.com>"})
		}
		if compose && len(f.to)+len(f.cc)+len(f.bcc) == 0 {
			f.to = []string{"Demo Recipient <recipient@example.org>"}
		}
		if !f.json {
			printDemo(out, demo)
		}
	}
	transcriptOut := out
	if f.json {
		transcriptOut = errOut
	}
	s, err := f.conn.session(ctx, src, loginAsAccount, transcriptOut, errOut)
	if err != nil {
		return err
	}
	tr = s.transcript
	printWarnings(errOut, s.file)
	if demo != nil {
		s.opts.TLSConfig = smtptest.ClientTLSConfig()
	}
	result.Server = s.addr()
	if !f.json {
		s.warnings(out)
	}
	if tr != nil {
		tr.info("Trying %s (security %s)", s.addr(), s.opts.Security)
	}
	defer func() {
		if demo != nil {
			result.Received = received(demo)
			if !f.json {
				printReceived(out, result.Received, !bulk)
			}
		}
	}()

	to, err := expandAddresses(f.to)
	if err != nil {
		return err
	}
	cc, err := expandAddresses(f.cc)
	if err != nil {
		return err
	}
	bcc, err := expandAddresses(f.bcc)
	if err != nil {
		return err
	}
	rule := envelope{from: s.acct.From, to: slices.Concat(to, cc, bcc)}
	if bulk {
		return sendBulk(ctx, out, errOut, f, s, rule, result)
	}

	var msg *message
	switch {
	case compose:
		m, wait, err := f.composed(stdin, s.acct.From, rule)
		if err != nil {
			return err
		}
		defer wait()
		msg = m
	case file == "" || file == "-":
		br := bufio.NewReader(stdin)
		if !f.allowEmpty && blank(br) {
			return errEmpty("standard input")
		}
		h, err := readHeader(br)
		if err != nil {
			return fmt.Errorf("standard input: %w", err)
		}
		msg = &message{source: "standard input"}
		if msg.env, err = rule.of(h); err != nil {
			return err
		}
		h.DelBcc()
		msg.r = io.MultiReader(bytes.NewReader(h.Bytes()), br)
	default:
		open := func() (io.ReadCloser, error) { return os.Open(file) }
		if !f.allowEmpty {
			if r, err := os.Open(file); err == nil {
				empty := blank(bufio.NewReader(r))
				r.Close()
				if empty {
					return errEmpty(file)
				}
			}
		}
		msg = fileMessage(file, rule, open)
		if msg.err != nil {
			return msg.err
		}
		defer msg.r.(*lazyMessage).Close()
		if info, err := os.Stat(file); err == nil {
			lm := msg.r.(*lazyMessage)
			msg.env.Size = info.Size() - lm.skip + int64(len(lm.head))
		}
	}
	mj := &messageJSON{Source: msg.source, From: msg.env.From, To: msg.env.To, Accepted: []string{}, Refused: []refusalJSON{}}
	result.Messages = append(result.Messages, mj)
	var a *attempt
	var q *queueing
	if s.acct.QueueOnFailure {
		q = f.queueing(s)
		if a, err = q.send(ctx, s, &msg.env, msg.r, errOut); err != nil {
			mj.record(nil, err)
			result.Summary = summarize(result.Messages)
			return err
		}
	} else {
		a = sendDirect(ctx, s, &msg.env, msg.r)
	}
	mj.record(a.res, a.err)
	mj.Queued = a.queued
	result.Summary = summarize(result.Messages)
	if !f.json && a.conn != 0 {
		printSent(out, mj, s.events.conn(a.conn))
	}
	switch {
	case a.queued != nil:
		q.note(errOut, a.queued)
		if n := len(a.judged.with(outbox.Failed)); n > 0 {
			return &partialError{failed: n, total: len(msg.env.To), what: "recipients"}
		}
		return nil
	case q != nil && a.judged.doubt:
		fmt.Fprintf(errOut, "smtpkit: not queued: the server may have the message already, and a second attempt could deliver it twice\n")
	}
	if a.err != nil {
		return a.err
	}
	if n := len(mj.Refused); n > 0 {
		return &partialError{failed: n, total: len(msg.env.To), what: "recipients"}
	}
	return nil
}

// queueing says how send uses the queue: the account's spool, and the
// command that sends what waits there.
func (f *sendFlags) queueing(s *session) *queueing {
	server := ""
	if f.conn.changed("server") || f.conn.changed("url") {
		server = s.addr()
	}
	account := ""
	if f.conn.changed("account") {
		account = f.conn.account
	}
	config := ""
	if f.conn.changed("config") {
		config = f.conn.configFile
	}
	return newQueueing(f.spool, s.acct, "smtpkit", queueHint(config, account, f.spool, server))
}

// looksLikeServer reports whether s reads as HOST:PORT, an IP address or a
// host name of three labels or more (mail.example.com), rather than as a
// file name such as message.eml.
func looksLikeServer(s string) bool {
	if strings.ContainsAny(s, `/\`) {
		return false
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		_, perr := strconv.ParseUint(port, 10, 16)
		return host != "" && perr == nil
	}
	if s == "localhost" || net.ParseIP(s) != nil {
		return true
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return false
		}
	}
	return len(labels) >= 3
}

// blank reports whether what br holds is empty or white space alone,
// looking no further than one buffer and consuming nothing.
func blank(br *bufio.Reader) bool {
	b, err := br.Peek(br.Size())
	return errors.Is(err, io.EOF) && len(bytes.TrimSpace(b)) == 0
}

// emptyMessage reports whether a message of --dir or --mbox is empty or
// white space alone; it reads a small message and rewinds it.
func emptyMessage(m *message) bool {
	rs, ok := m.r.(io.ReadSeeker)
	if !ok || m.env.Size > 4096 {
		return false
	}
	empty := blank(bufio.NewReader(rs))
	rs.Seek(0, io.SeekStart)
	return empty
}

// errEmpty refuses an empty message: an empty file or standard input is
// more often a mistake (a redirection, a failed command) than a wish.
func errEmpty(source string) error {
	return messageError{fmt.Errorf("%s: the message is empty: nothing was sent (give --allow-empty to send it anyway)", source)}
}

// record keeps what the server said of the message: a recipient is
// accepted or refused by its reply, and one without a reply (the
// connection failed first) is neither.
func (m *messageJSON) record(res *smtpkit.Result, err error) {
	m.err = err
	m.Error = newErrorJSON(err)
	if res != nil {
		for i, r := range res.Recipients {
			addr := r.Address
			if addr == "" && i < len(m.To) {
				addr = m.To[i] // the results are in the envelope's order
			}
			switch {
			case r.Reply.Code == 0:
				m.Unanswered = append(m.Unanswered, addr)
			case r.Accepted():
				m.Accepted = append(m.Accepted, addr)
			default:
				m.Refused = append(m.Refused, refusalJSON{Address: addr, Code: r.Reply.Code,
					Enhanced: enhanced(r.Reply.Enhanced), Text: r.Reply.Text()})
			}
		}
		m.Reply = queueview.NewReply(res.Reply)
	}
	m.OK = err == nil && len(m.Refused) == 0 && len(m.Unanswered) == 0
}

// summarize counts the results and groups the refusals by reply.
func summarize(msgs []*messageJSON) summaryJSON {
	s := summaryJSON{Messages: len(msgs), Refusals: []*groupJSON{}}
	groups := map[string]*groupJSON{}
	add := func(reply, phase, example string) {
		g := groups[reply]
		if g == nil {
			g = &groupJSON{Reply: reply, Phase: phase, Examples: []string{}}
			groups[reply] = g
			s.Refusals = append(s.Refusals, g)
		}
		g.Count++
		if len(g.Examples) < maxExamples {
			g.Examples = append(g.Examples, example)
		}
	}
	for _, m := range msgs {
		if m.err == nil {
			s.Sent++
			// Recipients a failed message's RCPT got past were not sent
			// anything: only a message the server took counts them.
			s.RecipientsAccepted += len(m.Accepted)
		} else if m.Queued == nil {
			s.Failed++
		}
		if m.Queued != nil {
			s.Queued++
			s.RecipientsQueued += len(m.Queued.Recipients)
		}
		for _, r := range m.Refused {
			if m.Queued == nil || !slices.Contains(m.Queued.Recipients, r.Address) {
				s.RecipientsRefused++
			}
		}
		for _, r := range m.Refused {
			add(queueview.ReplyLine(r.Code, r.Enhanced, r.Text), string(smtpkit.PhaseRcpt), m.Source+": "+r.Address)
		}
		if m.err != nil && !(errors.Is(m.err, smtpkit.ErrAllRecipientsRefused) && len(m.Refused) > 0) {
			reply, phase := describe(m.err), ""
			var e *smtpkit.Error
			if errors.As(m.err, &e) {
				phase = string(e.Phase)
				if e.Code != 0 {
					reply = queueview.ReplyLine(e.Code, enhanced(e.Enhanced), e.Message)
				}
			}
			add(reply, phase, m.Source)
		}
	}
	slices.SortStableFunc(s.Refusals, func(a, b *groupJSON) int { return b.Count - a.Count })
	return s
}

// replyLines formats a reply as the server sent it, a line each: "250-2.0.0
// OK", "250 2.0.0 queued as 1AbC".
func replyLines(r *queueview.Reply) []string {
	lines := strings.Split(r.Text, "\n")
	out := make([]string, len(lines))
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		out[i] = fmt.Sprint(r.Code) + sep + strings.TrimSpace(r.Enhanced+" "+l)
	}
	return out
}

// printSent prints the outcome of sending one message.
func printSent(out io.Writer, m *messageJSON, c connState) {
	fmt.Fprintf(out, "Message:      %s, from <%s> to %d recipient(s)\n", m.Source, m.From, len(m.To))
	fmt.Fprintf(out, "Server:       %s, %s\n", c.addr, c.describeSecurity())
	if len(m.Accepted) > 0 {
		fmt.Fprintf(out, "Accepted:     %s\n", strings.Join(m.Accepted, ", "))
	}
	for _, r := range m.Refused {
		fmt.Fprintf(out, "Refused:      %s: %s\n", r.Address, queueview.ReplyLine(r.Code, r.Enhanced, r.Text))
	}
	if len(m.Unanswered) > 0 {
		fmt.Fprintf(out, "Unanswered:   %s\n", strings.Join(m.Unanswered, ", "))
	}
	if m.Reply != nil {
		for i, l := range replyLines(m.Reply) {
			label := "Reply:"
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(out, "%-14s%s\n", label, l)
		}
	}
}

// received lists what the demo server got.
func received(srv *smtptest.Server) []receivedJSON {
	var out []receivedJSON
	for _, m := range srv.Messages() {
		out = append(out, receivedJSON{From: m.From, To: m.To, TLS: m.TLS, User: m.User, Data: string(m.Data)})
	}
	return out
}

// printReceived shows what the demo server received, the data too when full.
func printReceived(out io.Writer, msgs []receivedJSON, full bool) {
	fmt.Fprintf(out, "\nThe demo server received %d message(s):\n", len(msgs))
	for _, m := range msgs {
		tls := "without TLS"
		if m.TLS {
			tls = "over TLS"
		}
		fmt.Fprintf(out, "  MAIL FROM:<%s> RCPT TO:<%s> %s, %d bytes\n", m.From, strings.Join(m.To, ">,<"), tls, len(m.Data))
		if !full {
			continue
		}
		for _, line := range strings.Split(strings.TrimSuffix(m.Data, "\r\n"), "\r\n") {
			fmt.Fprintf(out, "  | %s\n", line)
		}
	}
}

// sendBulk sends the messages of --dir or --mbox over a Pool.
func sendBulk(ctx context.Context, out, errOut io.Writer, f *sendFlags, s *session, rule envelope, result *sendJSON) error {
	var msgs []*message
	var err error
	if f.dir != "" {
		msgs, err = dirMessages(f.dir, rule)
	} else {
		var mbox *os.File
		if mbox, err = os.Open(f.mbox); err != nil {
			return inputError{fmt.Errorf("--mbox: %w", err)}
		}
		defer mbox.Close()
		msgs, err = mboxMessages(mbox, rule)
	}
	if err != nil {
		return err
	}
	var mails []smtpkit.Mail
	var sent []*messageJSON // the entries of the mails, in order
	var bar *progress
	if !f.noProgress && isTerminal(errOut) {
		bar = startProgress(errOut, len(msgs))
	}
	for _, m := range msgs {
		mj := &messageJSON{Source: m.source, From: m.env.From, To: m.env.To, Accepted: []string{}, Refused: []refusalJSON{}}
		if mj.To == nil {
			mj.To = []string{}
		}
		result.Messages = append(result.Messages, mj)
		if m.err == nil && !f.allowEmpty && emptyMessage(m) {
			m.err = errEmpty(m.source)
		}
		if m.err != nil {
			mj.record(nil, m.err)
			if bar != nil {
				bar.add()
			}
			continue
		}
		mails = append(mails, smtpkit.Mail{Envelope: m.env, Message: m.r.(*lazyMessage)})
		sent = append(sent, mj)
	}
	if len(mails) > 0 {
		pool := &smtpkit.Pool{Addr: s.addr(), Dialer: s.dialer(), MaxConns: f.connections}
		var progress func(int, smtpkit.BatchResult)
		if bar != nil {
			progress = func(int, smtpkit.BatchResult) { bar.add() }
		}
		results := pool.SendAll(ctx, mails, progress)
		pool.Close(ctx)
		var bq *bulkQueue
		if s.acct.QueueOnFailure {
			bq = &bulkQueue{q: f.queueing(s)}
			defer bq.close()
		}
		for i, r := range results {
			sent[i].record(r.Result, r.Err)
			if bq != nil {
				bq.add(ctx, errOut, sent[i], &mails[i], r)
			}
			mails[i].Message.(*lazyMessage).Close()
		}
		if bq != nil && bq.queued > 0 {
			fmt.Fprintf(errOut, "smtpkit: queued %d message(s) the server could not take now; %s sends them\n", bq.queued, bq.q.hint)
		}
	}
	if bar != nil {
		bar.finish()
	}
	result.Summary = summarize(result.Messages)
	if !f.json {
		printSummary(out, f, s, result)
	}
	var first error
	bad := 0
	for _, m := range result.Messages {
		if m.settled() {
			continue
		}
		bad++
		if m.err != nil && first == nil {
			first = m.err
		}
	}
	switch {
	case bad == 0:
		return nil
	case result.Summary.Sent == 0 && result.Summary.Queued == 0 && first != nil:
		return first
	}
	return &partialError{failed: bad, total: len(result.Messages), what: "messages"}
}

// settled reports whether nothing went wrong with m for good: it went to
// every recipient, or what did not go waits in the queue.
func (m *messageJSON) settled() bool {
	if m.OK {
		return true
	}
	if m.Queued == nil || m.err != nil && !transient(m.err) {
		return false
	}
	for _, r := range m.Refused {
		if r.Code/100 == 5 {
			return false
		}
	}
	return true
}

// bulkQueue queues the messages of send --dir and --mbox that failed
// transiently. They are files, read again from the start: the message
// is safe where it was until Enqueue returns, and enqueueing only those
// that need it spares the rest a sync each.
type bulkQueue struct {
	q      *queueing
	spool  *outbox.Spool
	err    error // why the spool cannot be opened
	queued int
}

// add queues the recipients of mail that r left for a later attempt, and
// records it in m: the message goes to those recipients only.
func (b *bulkQueue) add(ctx context.Context, errOut io.Writer, m *messageJSON, mail *smtpkit.Mail, r smtpkit.BatchResult) {
	j := judge(len(mail.Envelope.To), r.Result, r.Err)
	pending := j.with(outbox.Pending)
	if j.doubt || len(pending) == 0 {
		return
	}
	if b.spool == nil && b.err == nil {
		if b.spool, b.err = b.q.open(); b.err != nil {
			fmt.Fprintf(errOut, "smtpkit: error: the messages that failed cannot be queued: %s\n", oneLine(describe(b.err)))
		}
	}
	if b.err != nil {
		return
	}
	env := mail.Envelope
	env.To = nil
	for _, i := range pending {
		env.To = append(env.To, mail.Envelope.To[i])
	}
	lm := mail.Message.(*lazyMessage)
	lm.Seek(0, io.SeekStart)
	id, err := b.spool.Enqueue(ctx, &env, lm)
	if err != nil {
		fmt.Fprintf(errOut, "smtpkit: error: %s: not queued: %s\n", m.Source, oneLine(describe(err)))
		return
	}
	b.queued++
	m.Queued = &queuedJSON{ID: id, Recipients: env.To, Reason: j.why(mail.Envelope.To, pending, r.Err), Spool: b.spool.Dir()}
}

func (b *bulkQueue) close() {
	if b.spool != nil {
		b.spool.Close()
	}
}

// printSummary prints the outcome of a bulk send.
func printSummary(out io.Writer, f *sendFlags, s *session, r *sendJSON) {
	from := f.dir
	if from == "" {
		from = f.mbox
	}
	sum := r.Summary
	fmt.Fprintf(out, "Messages:     %d from %s\n", sum.Messages, from)
	fmt.Fprintf(out, "Server:       %s, up to %d connection(s)\n", s.addr(), f.connections)
	fmt.Fprintf(out, "Accepted:     %d message(s), for %d recipient(s)\n", sum.Sent, sum.RecipientsAccepted)
	if sum.Failed > 0 {
		fmt.Fprintf(out, "Failed:       %d message(s)\n", sum.Failed)
	}
	if sum.RecipientsRefused > 0 {
		fmt.Fprintf(out, "Refused:      %d recipient(s)\n", sum.RecipientsRefused)
	}
	if sum.Queued > 0 {
		fmt.Fprintf(out, "Queued:       %d message(s), for %d recipient(s), to be sent later\n", sum.Queued, sum.RecipientsQueued)
	}
	if len(sum.Refusals) == 0 {
		return
	}
	fmt.Fprintln(out, "Refusals and failures, by reply:")
	for _, g := range sum.Refusals {
		phase := ""
		if g.Phase != "" {
			phase = " [" + g.Phase + "]"
		}
		fmt.Fprintf(out, "  %4d × %s%s\n", g.Count, g.Reply, phase)
		for _, e := range g.Examples {
			fmt.Fprintf(out, "         %s\n", e)
		}
		if g.Count > len(g.Examples) {
			fmt.Fprintf(out, "         ... and %d more\n", g.Count-len(g.Examples))
		}
	}
}
