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
	"github.com/smtpkit/smtpkit/internal/queueview"
	"github.com/smtpkit/smtpkit/outbox"
)

// recordLimit bounds the closing of the connections once the command is
// interrupted.
const recordLimit = 30 * time.Second

// passwordEnv holds the password of --user.
const passwordEnv = "SMTPKIT_PASSWORD"

// runJSON is the outcome of a run, with the fields of "smtpkit queue run".
type runJSON struct {
	Command string `json:"command"`
	queueview.Run
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
	result := &runJSON{Command: "run", Run: queueview.Run{Server: f.server,
		Delivered: []*queueview.Entry{}, Deferred: []*queueview.Entry{}, Failed: []*queueview.Entry{}}}
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
	result.Ended(ended)
	after, err := s.List(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	result.Queued(after, attempts)
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
		ej := queueview.NewEntry(&en)
		mu.Lock()
		defer mu.Unlock()
		if f.json {
			enc.Encode(ej)
			return
		}
		if len(en.Failed()) > 0 {
			for _, rc := range ej.Recipients {
				if rc.Status == string(outbox.Failed) {
					fmt.Fprintf(e.stdout, "%s  failed for <%s>: %s\n", en.ID, rc.Address, rc.Why())
				}
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
	switch {
	case len(r.Failed) > 0 && r.AnyDelivered():
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
	fmt.Fprintf(out, "Server:       %s\n", r.Server)
	queueview.WriteRun(out, &r.Run, "outbox", time.Now())
}
