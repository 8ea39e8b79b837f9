package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/config"
	"github.com/smtpkit/smtpkit/internal/queueview"
	"github.com/smtpkit/smtpkit/outbox"
)

// queueFlags are the settings of the queue commands.
type queueFlags struct {
	conn  connFlags
	auth  authFlags
	spool string
	json  bool

	all         bool // list: every spool; run: every entry, due or not
	due         bool // run: only the entries due
	connections int  // run
	noProgress  bool // run
}

// register adds the flags every queue command has.
func (f *queueFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.conn.register(fl)
	fl.StringVar(&f.spool, "spool", "", "the directory of the queues, one per account (default: $SMTPKIT_SPOOL, "+
		"else /var/spool/smtpkit for root, else $XDG_STATE_HOME/smtpkit/queue)")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object")
}

const queueHelp = `Messages wait in the queue when the server could not take them: send --queue
(or queue_on_failure = true in the account) and sendmail queue a message on a
transient failure (a 4xx reply, a failed connection, a time limit), and
sendmail -odq queues without sending.

  queue list [--all]     the messages waiting, with why and when they go next
  queue show ID          one message: envelope, each recipient, the header
  queue run [--due]      send what waits, now: delivered, deferred, failed
  queue retry ID         make a message due now (queue run then sends it)
  queue delete ID        remove a message without sending it

An attempt goes to the recipients still pending only: one delivered once is
never sent to again, and a 5xx ends a recipient for good. A message still
refused after 5 days is given up on, as Postfix does. Two runs at once never
attempt one message at the same time, and a process killed at any moment
loses nothing: a message is on disk, synced, before any command says it is
queued. The one window for a second copy: the connection breaks after the whole message was
sent and before the server's verdict (RFC 1047); queue run counts those
"in doubt" and sends them again (at least once), while send and sendmail,
on their own first attempt, report it and queue nothing.

`

func newQueueCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue list|run|show ID|retry ID|delete ID",
		Short: "List, send, retry or delete the messages waiting in an account's queue",
		Long:  queueHelp + spoolHelp,
		Example: `  smtpkit queue list --account work
  smtpkit queue run --account work           # as sendmail -q does
  smtpkit queue show 0189f3c2a4b5d6e7a1b2c3d4 --json
  smtpkit queue list --all                   # the queues of every account`,
	}
	cmd.AddCommand(newQueueListCommand(), newQueueShowCommand(), newQueueRunCommand(),
		newQueueIDCommand("retry", "Make a queued message due now: queue run then sends it"),
		newQueueIDCommand("delete", "Remove a queued message without sending it"))
	return cmd
}

func newQueueListCommand() *cobra.Command {
	var f queueFlags
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "List the messages waiting in the account's queue",
		Long: `List the messages waiting in the account's queue, oldest first: the ID, the
size, when it was queued, the attempts made, when the next one is due, the
sender and the recipients still pending, and the last failure. --all lists
the queues of every account under the queue directory.

With --json: {"command": "queue list", "ok": true, "spools": [{"name": "work",
"dir": "...", "entries": [{"id", "from", "to", "pending", "size", "created",
"attempts", "next_attempt", "last_error", "in_doubt", "being_sent",
"recipients": [{"address", "status", "reply", "reason"}]}]}], "exit_code": 0}

` + spoolHelp,
		Args: noArgs("queue list"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQueueList(cmd.Context(), cmd.OutOrStdout(), &f)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.all, "all", false, "list the queues of every account")
	return cmd
}

func newQueueShowCommand() *cobra.Command {
	var f queueFlags
	cmd := &cobra.Command{
		Use:   "show [flags] ID",
		Short: "Show one queued message: its envelope, each recipient, its header",
		Long: `Show one message of the account's queue: the envelope, where each recipient
stands (pending, delivered, failed) with the server's last reply about it,
the attempts made, and the message's header.

With --json: {"command": "queue show", "ok": true, "spool": "...",
"entry": {... as queue list, and "header": "..."}, "exit_code": 0}

` + spoolHelp,
		Args: oneID("queue show"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQueueShow(cmd.Context(), cmd.OutOrStdout(), &f, args[0])
		},
	}
	f.register(cmd)
	return cmd
}

func newQueueIDCommand(verb, short string) *cobra.Command {
	var f queueFlags
	cmd := &cobra.Command{
		Use:   verb + " [flags] ID",
		Short: short,
		Long: short + `. A message being sent right now cannot be touched: exit 75, try again in a moment.

With --json: {"command": "queue ` + verb + `", "ok": true, "spool": "...", "id": "...", "exit_code": 0}

` + spoolHelp,
		Args: oneID("queue " + verb),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQueueID(cmd.Context(), cmd.OutOrStdout(), &f, verb, args[0])
		},
	}
	f.register(cmd)
	return cmd
}

func newQueueRunCommand() *cobra.Command {
	var f queueFlags
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Send the messages waiting in the account's queue",
		Long: `Send the messages waiting in the account's queue, now, over up to
--connections connections, and say what became of them: delivered,
deferred (still queued, with the server's reply and the next attempt),
failed for good (with the server's replies), and in doubt. --due sends
only the messages whose next attempt is due, keeping the backoff between
attempts (1 minute, doubled at each attempt up to an hour), as a cron job
that runs often should. A progress bar shows on standard error when it is
a terminal.

Exit codes: 0 when every message was delivered (or none waited), 75 when
some stay queued for a later attempt and none failed for good, 69 when
messages failed for good and none was delivered, 3 when some failed for
good and others were delivered.

With --json: {"command": "queue run", "ok": false, "spool": "...",
"server": "host:port", "due": 3, "delivered": [{entry}], "deferred": [...],
"failed": [...], "in_doubt": 0, "left": 1, "error": {...}, "exit_code": 75}
where each entry is as queue list shows it.

` + spoolHelp + "\n\n" + settingsHelp,
		Args: noArgs("queue run"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQueueRun(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f)
		},
	}
	f.register(cmd)
	f.auth.register(cmd.Flags())
	cmd.Flags().BoolVar(&f.due, "due", false, "send only the messages whose next attempt is due")
	cmd.Flags().IntVar(&f.connections, "connections", 4, "connections used at once")
	cmd.Flags().BoolVar(&f.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

func noArgs(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("%s takes no argument (the account comes from --account or the defaults)", name)}
		}
		return nil
	}
}

func oneID(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Errorf("%s takes one ID, as queue list shows it", name)}
		}
		return nil
	}
}

// account resolves the account as the other commands do, without the
// password, which only queue run needs.
func (f *queueFlags) account() (*config.Account, error) {
	src, err := f.conn.sources("")
	if err != nil {
		return nil, err
	}
	acct, _, err := src.resolve(f.conn.defaults)
	return acct, err
}

// spoolOf opens the spool of the account that holds the entry id; an
// account that never queued anything has no entry.
func (f *queueFlags) spoolOf(id string) (*outbox.Spool, error) {
	acct, err := f.account()
	if err != nil {
		return nil, err
	}
	dir, err := spoolDir(f.spool, acct)
	if err != nil {
		return nil, err
	}
	if !exists(dir) {
		return nil, usageError{fmt.Errorf("outbox: entry %s: %w (there is no queue in %s)", id, outbox.ErrNotFound, dir)}
	}
	return openSpool(dir)
}

// listSpool returns the entries of the spool dir, without creating it.
func listSpool(ctx context.Context, dir string) (*spoolJSON, error) {
	sj := &spoolJSON{Name: filepath.Base(dir), Dir: dir, Entries: []*queueview.Entry{}}
	if !exists(dir) {
		return sj, nil
	}
	spool, err := openSpool(dir)
	if err != nil {
		return nil, err
	}
	defer spool.Close()
	sj.Dir = spool.Dir()
	entries, err := spool.List(ctx)
	if err != nil && entries == nil {
		return nil, queueError{err}
	}
	for i := range entries {
		sj.Entries = append(sj.Entries, queueview.NewEntry(&entries[i]))
	}
	if err != nil {
		return sj, queueError{fmt.Errorf("some entries cannot be read: %w", err)}
	}
	return sj, nil
}

// spoolJSON is one account's queue.
type spoolJSON struct {
	Name    string             `json:"name"`
	Dir     string             `json:"dir"`
	Entries []*queueview.Entry `json:"entries"`
}

type queueListJSON struct {
	Command string `json:"command"`
	outcomeJSON
	Spools []*spoolJSON `json:"spools"`
}

func runQueueList(ctx context.Context, out io.Writer, f *queueFlags) (err error) {
	result := &queueListJSON{Command: "queue list", Spools: []*spoolJSON{}}
	if f.json {
		defer printOutcome(out, result, &err)
	}
	var dirs []string
	if f.all {
		base, err := spoolBase(f.spool)
		if err != nil {
			return err
		}
		des, err := os.ReadDir(base)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return queueError{fmt.Errorf("the queues in %s: %w", base, err)}
		}
		for _, de := range des {
			if de.IsDir() {
				dirs = append(dirs, filepath.Join(base, de.Name()))
			}
		}
		if len(dirs) == 0 && !f.json {
			fmt.Fprintf(out, "No queue in %s\n", base)
		}
	} else {
		acct, err := f.account()
		if err != nil {
			return err
		}
		dir, err := spoolDir(f.spool, acct)
		if err != nil {
			return err
		}
		dirs = append(dirs, dir)
	}
	for _, dir := range dirs {
		sj, err := listSpool(ctx, dir)
		if sj == nil {
			return err
		}
		result.Spools = append(result.Spools, sj)
		if !f.json {
			printQueue(out, sj)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// printQueue lists the entries of one spool.
func printQueue(out io.Writer, sj *spoolJSON) {
	if len(sj.Entries) == 0 {
		fmt.Fprintf(out, "Queue %s: empty\n", sj.Dir)
		return
	}
	fmt.Fprintf(out, "Queue %s: %d message(s)\n", sj.Dir, len(sj.Entries))
	now := time.Now()
	for _, e := range sj.Entries {
		queueview.WriteLine(out, e, now)
	}
}

type queueShowJSON struct {
	Command string `json:"command"`
	outcomeJSON
	Spool string           `json:"spool"`
	Entry *queueview.Entry `json:"entry,omitempty"`
}

func runQueueShow(ctx context.Context, out io.Writer, f *queueFlags, id string) (err error) {
	result := &queueShowJSON{Command: "queue show"}
	if f.json {
		defer printOutcome(out, result, &err)
	}
	spool, err := f.spoolOf(id)
	if err != nil {
		return err
	}
	defer spool.Close()
	result.Spool = spool.Dir()
	e, err := spool.Get(ctx, id)
	if err != nil {
		return entryError(err)
	}
	ej := queueview.NewEntry(e)
	if msg, err := spool.Open(ctx, id); err == nil {
		ej.Header = queueview.ReadHeader(msg)
		msg.Close()
	}
	result.Entry = ej
	if !f.json {
		queueview.WriteShow(out, ej, spool.Dir(), time.Now())
	}
	return nil
}

// entryError words the Store's errors about one entry as the command line's.
func entryError(err error) error {
	switch {
	case errors.Is(err, outbox.ErrNotFound):
		return usageError{err}
	case errors.Is(err, outbox.ErrBusy):
		return tryLaterError{err}
	}
	return queueError{err}
}

type queueIDJSON struct {
	Command string `json:"command"`
	outcomeJSON
	Spool string `json:"spool"`
	ID    string `json:"id"`
}

func runQueueID(ctx context.Context, out io.Writer, f *queueFlags, verb, id string) (err error) {
	result := &queueIDJSON{Command: "queue " + verb, ID: id}
	if f.json {
		defer printOutcome(out, result, &err)
	}
	spool, err := f.spoolOf(id)
	if err != nil {
		return err
	}
	defer spool.Close()
	result.Spool = spool.Dir()
	if verb == "retry" {
		err = spool.Retry(ctx, id)
	} else {
		err = spool.Delete(ctx, id)
	}
	if err != nil {
		return entryError(err)
	}
	if !f.json {
		if verb == "retry" {
			fmt.Fprintf(out, "%s is due now: queue run sends it\n", id)
		} else {
			fmt.Fprintf(out, "%s deleted: it will not be sent\n", id)
		}
	}
	return nil
}

// queueRunJSON is the outcome of a run of the queue.
type queueRunJSON struct {
	Command string `json:"command"`
	outcomeJSON
	Spool string `json:"spool"`
	queueview.Run
}

func runQueueRun(ctx context.Context, stdin io.Reader, out, errOut io.Writer, f *queueFlags) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	result := &queueRunJSON{Command: "queue run"}
	var tr *transcript
	defer func() {
		if err != nil && tr != nil {
			tr.error(err)
		}
		if f.json {
			printOutcome(out, result, &err)
		}
	}()
	if f.connections < 1 {
		return usageError{errors.New("--connections: want 1 or more")}
	}
	src, err := f.conn.sources("")
	if err != nil {
		return err
	}
	if err := f.auth.addTo(src, stdin); err != nil {
		return err
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
	dir, err := spoolDir(f.spool, s.acct)
	if err != nil {
		return err
	}
	spool, err := openSpool(dir)
	if err != nil {
		return err
	}
	defer spool.Close()
	qr := &queueRunner{s: s, spool: spool, connections: f.connections, log: errOut}
	var bar func(total int, count func() int64) func()
	if !f.noProgress && !f.json && isTerminal(errOut) {
		bar = func(total int, count func() int64) func() { return startProgressFunc(errOut, total, count).finish }
	}
	err = qr.flush(ctx, result, !f.due, bar)
	if !f.json {
		printQueueRun(out, result, f.connections)
	}
	if err != nil {
		return err
	}
	return result.failure()
}

// recordLimit bounds the bookkeeping after an attempt, which goes on when
// the command is interrupted: a record dropped costs a second copy.
const recordLimit = 30 * time.Second

// queueRunner sends the entries of one account's spool with an outbox.Runner.
type queueRunner struct {
	s           *session
	spool       *outbox.Spool
	connections int
	log         io.Writer // the runner's errors
}

// pool returns the Pool the runner sends through, and how to close it.
func (qr *queueRunner) pool(ctx context.Context) (*smtpkit.Pool, func()) {
	pool := &smtpkit.Pool{Addr: qr.s.addr(), Dialer: qr.s.dialer(), MaxConns: qr.connections}
	return pool, func() {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordLimit)
		pool.Close(bg)
		cancel()
	}
}

// logger is the runner's log on the command line: its errors alone (a
// spool that cannot record); what became of each entry is reported apart.
func (qr *queueRunner) logger() *slog.Logger {
	return slog.New(leveled{newWarnHandler(qr.log), slog.LevelError})
}

// flush sends the entries due (every entry, when all) once, and records
// in result what became of them.
func (qr *queueRunner) flush(ctx context.Context, result *queueRunJSON, all bool, bar func(int, func() int64) func()) error {
	result.Spool, result.Server = qr.spool.Dir(), qr.s.addr()
	result.Delivered, result.Deferred, result.Failed = []*queueview.Entry{}, []*queueview.Entry{}, []*queueview.Entry{}
	before, err := qr.spool.List(ctx)
	if err != nil && before == nil {
		return queueError{err}
	}
	attempts := map[string]int{}
	now := time.Now()
	for _, e := range before {
		attempts[e.ID] = e.Attempts
		if e.Leased {
			continue
		}
		if all && e.NextAttempt.After(now) {
			if err := qr.spool.Retry(ctx, e.ID); err != nil {
				continue // taken or gone meanwhile
			}
		} else if e.NextAttempt.After(now) {
			continue
		}
		result.Due++
	}
	if result.Due == 0 {
		result.Left = len(before)
		return nil
	}
	pool, closePool := qr.pool(ctx)
	defer closePool()
	var mu sync.Mutex
	var ended []outbox.Entry
	r := &outbox.Runner{Store: qr.spool, Pool: pool, Logger: qr.logger(), Report: func(e outbox.Entry) {
		mu.Lock()
		ended = append(ended, e)
		mu.Unlock()
	}}
	if bar != nil {
		finish := bar(result.Due, func() int64 { return r.Stats().Attempts })
		defer finish()
	}
	ferr := r.Flush(ctx)
	result.Ended(ended)
	after, err := qr.spool.List(context.WithoutCancel(ctx))
	if err != nil && after == nil {
		return queueError{err}
	}
	result.Queued(after, attempts)
	result.InDoubt = r.Stats().InDoubt
	if ferr != nil {
		return queueError{ferr}
	}
	return nil
}

// failure is the error a run of the queue exits with: partial when some
// messages failed for good and others went, failed for good when none
// went, try later when messages stay queued.
func (r *queueRunJSON) failure() error {
	switch {
	case len(r.Failed) > 0 && r.AnyDelivered():
		return &partialError{failed: len(r.Failed), total: r.Due, what: "queued messages"}
	case len(r.Failed) > 0:
		return failedForGoodError{fmt.Errorf("%d queued message(s) failed for good", len(r.Failed))}
	case len(r.Deferred) > 0:
		return tryLaterError{fmt.Errorf("%d message(s) stay in the queue for a later attempt", len(r.Deferred))}
	}
	return nil
}

// printQueueRun prints the outcome of a run of the queue.
func printQueueRun(out io.Writer, r *queueRunJSON, connections int) {
	if r.Spool == "" {
		return
	}
	if r.Due == 0 {
		fmt.Fprintf(out, "Queue:        %s, nothing to send (%d message(s) waiting)\n", r.Spool, r.Left)
		return
	}
	fmt.Fprintf(out, "Queue:        %s, %d message(s) to send\n", r.Spool, r.Due)
	fmt.Fprintf(out, "Server:       %s, up to %d connection(s)\n", r.Server, connections)
	queueview.WriteRun(out, &r.Run, "queue", time.Now())
}

// leveled is a slog.Handler that passes on the records of a level and above.
type leveled struct {
	slog.Handler
	min slog.Level
}

func (h leveled) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h leveled) WithAttrs(attrs []slog.Attr) slog.Handler {
	return leveled{h.Handler.WithAttrs(attrs), h.min}
}

func (h leveled) WithGroup(name string) slog.Handler {
	return leveled{h.Handler.WithGroup(name), h.min}
}

// run sends the entries as they fall due until ctx ends, looking for
// those other processes queued every poll; report hears of each entry
// that leaves the queue.
func (qr *queueRunner) run(ctx context.Context, poll time.Duration, report func(outbox.Entry)) error {
	pool, closePool := qr.pool(ctx)
	defer closePool()
	r := &outbox.Runner{Store: qr.spool, Pool: pool, Logger: qr.logger(), PollInterval: poll, Report: report}
	if err := r.Run(ctx); err != nil {
		return queueError{err}
	}
	return nil
}
