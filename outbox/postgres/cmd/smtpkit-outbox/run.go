package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
)

// recordLimit bounds the closing of the connections once the command is
// interrupted.
const recordLimit = 30 * time.Second

// passwordEnv holds the password of --user.
const passwordEnv = "SMTPKIT_PASSWORD"

// runJSON is the outcome of a run, with the fields of "smtpkit queue run".
type runJSON struct {
	Command   string       `json:"command"`
	Server    string       `json:"server"`
	Due       int          `json:"due"`
	Delivered []*entryJSON `json:"delivered"`
	Deferred  []*entryJSON `json:"deferred"`
	Failed    []*entryJSON `json:"failed"`
	InDoubt   int64        `json:"in_doubt"`
	Left      int          `json:"left"`
	outcomeJSON
}

type runFlags struct {
	common
	server      string
	security    string
	user        string
	connections int
	due         bool
	watch       bool
}

func runRun(ctx context.Context, e *env, args []string) (err error) {
	var f runFlags
	fs := f.flags(e, "run", "", `Send the messages waiting in the outbox to --server, now, over up to
--connections connections, through smtpkit's outbox.Runner, and say what became
of them: delivered, deferred (still queued, with the server's reply and the
next attempt), failed for good (with the server's replies), and in doubt.
--due sends only the messages whose next attempt is due, keeping the backoff
between attempts. --watch keeps sending, as messages are queued by any
process, until interrupted (SIGINT, SIGTERM); it prints a line (with --json,
an object) for each message that leaves the outbox. Any number of runs, on any
number of hosts, share the outbox without sending a message twice.

Exit codes: 0 when every message was delivered (or none waited), 75 when some
stay queued for a later attempt and none failed for good, 69 when messages
failed for good and none was delivered, 3 when some failed for good and others
were delivered.

With --json: {"command": "run", "server": "host:port", "due": 3, "delivered":
[{entry}], "deferred": [...], "failed": [...], "in_doubt": 0, "left": 1,
"ok": false, "error": {...}, "exit_code": 75}, each entry as list shows it.`)
	fs.StringVar(&f.server, "server", "", "the SMTP server, host:port")
	fs.StringVar(&f.security, "security", smtpkit.SecurityTLSAuto.String(),
		"tls-auto (TLS, implicit or STARTTLS, never plaintext), implicit-tls, starttls, starttls-if-offered, auto or none")
	fs.StringVar(&f.user, "user", "", "log in as this user, with the password in $"+passwordEnv)
	fs.IntVar(&f.connections, "connections", 4, "connections used at once")
	fs.BoolVar(&f.due, "due", false, "send only the messages whose next attempt is due")
	fs.BoolVar(&f.watch, "watch", false, "keep sending as messages are queued, until interrupted")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	result := &runJSON{Command: "run", Server: f.server,
		Delivered: []*entryJSON{}, Deferred: []*entryJSON{}, Failed: []*entryJSON{}}
	if f.json && !f.watch {
		defer printJSON(e.stdout, result, &err)
	}
	pool, err := f.pool(e)
	if err != nil {
		return err
	}
	s, err := f.open(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	defer func() {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordLimit)
		pool.Close(bg)
		cancel()
	}()
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if f.watch {
		return f.runWatch(ctx, e, s, pool, logger)
	}

	before, err := s.List(ctx)
	if err != nil {
		return err
	}
	attempts := map[string]int{}
	now := time.Now()
	for _, en := range before {
		attempts[en.ID] = en.Attempts
		if en.Leased || f.due && en.NextAttempt.After(now) {
			continue
		}
		if en.NextAttempt.After(now) {
			if err := s.Retry(ctx, en.ID); err != nil {
				continue // taken or gone meanwhile
			}
		}
		result.Due++
	}
	var mu sync.Mutex
	var ended []outbox.Entry
	r := &outbox.Runner{Store: s, Pool: pool, Logger: logger, Report: func(en outbox.Entry) {
		mu.Lock()
		ended = append(ended, en)
		mu.Unlock()
	}}
	ferr := r.Flush(ctx)
	for i := range ended {
		ej := newEntryJSON(&ended[i])
		if len(ended[i].Failed()) > 0 {
			result.Failed = append(result.Failed, ej)
		} else {
			result.Delivered = append(result.Delivered, ej)
		}
	}
	after, err := s.List(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	for i, en := range after {
		if n, ok := attempts[en.ID]; en.Attempts > n || !ok && en.Attempts > 0 {
			result.Deferred = append(result.Deferred, newEntryJSON(&after[i]))
		}
	}
	result.Left = len(after)
	result.InDoubt = r.Stats().InDoubt
	if !f.json {
		printRun(e.stdout, result)
	}
	if ferr != nil {
		return ferr
	}
	return result.failure()
}

// pool returns the Pool that sends to --server.
func (f *runFlags) pool(e *env) (*smtpkit.Pool, error) {
	if f.server == "" {
		return nil, usageError{errors.New("no server: give --server host:port")}
	}
	if _, _, err := net.SplitHostPort(f.server); err != nil {
		return nil, usageError{fmt.Errorf("--server %q: want host:port (%v)", f.server, err)}
	}
	if f.connections < 1 {
		return nil, usageError{errors.New("--connections: want 1 or more")}
	}
	sec, err := smtpkit.ParseSecurity(f.security)
	if err != nil {
		return nil, usageError{fmt.Errorf("--security: %w", err)}
	}
	opts := smtpkit.Options{Security: sec}
	if f.user != "" {
		password := e.getenv(passwordEnv)
		if password == "" {
			return nil, configError{fmt.Errorf("--user %s: no password: set $%s", f.user, passwordEnv)}
		}
		opts.Auth = &smtpkit.Auth{Username: f.user, Password: password}
	}
	return &smtpkit.Pool{Addr: f.server, Dialer: &smtpkit.Dialer{Options: opts}, MaxConns: f.connections}, nil
}

// runWatch sends the entries as they fall due until ctx ends, and reports
// each that leaves the outbox.
func (f *runFlags) runWatch(ctx context.Context, e *env, s outbox.Store, pool *smtpkit.Pool, logger *slog.Logger) error {
	var mu sync.Mutex
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	r := &outbox.Runner{Store: s, Pool: pool, Logger: logger, Report: func(en outbox.Entry) {
		ej := newEntryJSON(&en)
		mu.Lock()
		defer mu.Unlock()
		if f.json {
			enc.Encode(ej)
			return
		}
		if failed := en.Failed(); len(failed) > 0 {
			for _, rc := range failed {
				why := rc.Reason
				if r := newReplyJSON(rc.Reply); r != nil {
					why = r.line()
				}
				fmt.Fprintf(e.stdout, "%s  failed for <%s>: %s\n", en.ID, rc.Address, why)
			}
			return
		}
		fmt.Fprintf(e.stdout, "%s  delivered from <%s> to %d recipient(s)\n", en.ID, en.Envelope.From, len(en.Recipients))
	}}
	err := r.Run(ctx)
	if ctx.Err() != nil {
		return nil // interrupted, as asked
	}
	return err
}

// failure is the error a run exits with: partial when some messages failed
// for good and others went, unavailable when none went, try later when
// messages stay queued.
func (r *runJSON) failure() error {
	delivered := len(r.Delivered)
	for _, list := range [][]*entryJSON{r.Failed, r.Deferred} {
		for _, e := range list {
			for _, rc := range e.Recipients {
				if rc.Status == string(outbox.Delivered) {
					delivered++
				}
			}
		}
	}
	switch {
	case len(r.Failed) > 0 && delivered > 0:
		return partialError{fmt.Errorf("%d of %d message(s) failed for good, the others were delivered", len(r.Failed), r.Due)}
	case len(r.Failed) > 0:
		return unavailableError{fmt.Errorf("%d message(s) failed for good", len(r.Failed))}
	case len(r.Deferred) > 0:
		return tryLaterError{fmt.Errorf("%d message(s) stay in the outbox for a later attempt", len(r.Deferred))}
	}
	return nil
}

// printRun prints the outcome of a run.
func printRun(out io.Writer, r *runJSON) {
	if r.Due == 0 && len(r.Delivered)+len(r.Failed)+len(r.Deferred) == 0 {
		fmt.Fprintf(out, "Nothing to send (%d message(s) waiting)\n", r.Left)
		return
	}
	recipients := func(list []*entryJSON, status outbox.Status) int {
		n := 0
		for _, e := range list {
			for _, rc := range e.Recipients {
				if rc.Status == string(status) {
					n++
				}
			}
		}
		return n
	}
	fmt.Fprintf(out, "Server:       %s\n", r.Server)
	fmt.Fprintf(out, "Delivered:    %d message(s), for %d recipient(s)\n", len(r.Delivered), recipients(r.Delivered, outbox.Delivered))
	if len(r.Deferred) > 0 {
		fmt.Fprintf(out, "Deferred:     %d message(s), for %d recipient(s), still queued:\n", len(r.Deferred), recipients(r.Deferred, outbox.Pending))
		for _, e := range r.Deferred {
			fmt.Fprintf(out, "  %s  %s (next: %s)\n", e.ID, e.LastError, nextAttempt(e))
		}
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(out, "Failed:       %d message(s), for %d recipient(s), removed from the outbox:\n", len(r.Failed), recipients(r.Failed, outbox.Failed))
		for _, e := range r.Failed {
			for _, rc := range e.Recipients {
				if rc.Status != string(outbox.Failed) {
					continue
				}
				why := rc.Reason
				if rc.Reply != nil {
					why = rc.Reply.line()
				}
				fmt.Fprintf(out, "  %s  %s: %s\n", e.ID, rc.Address, why)
			}
		}
	}
	if r.InDoubt > 0 {
		fmt.Fprintf(out, "In doubt:     %d (the connection broke after the whole message and before the reply: "+
			"it may have been delivered, and goes again)\n", r.InDoubt)
	}
	fmt.Fprintf(out, "Left:         %d message(s) in the outbox\n", r.Left)
}
