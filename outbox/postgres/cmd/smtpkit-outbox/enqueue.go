package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/internal/queueview"
	"github.com/smtpkit/smtpkit/message"
	"github.com/smtpkit/smtpkit/outbox"
)

// addresses is a flag that may be repeated, each value a comma-separated list.
type addresses []string

func (a *addresses) String() string { return strings.Join(*a, ",") }

func (a *addresses) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*a = append(*a, s)
		}
	}
	return nil
}

type enqueueJSON struct {
	Command string           `json:"command"`
	Entry   *queueview.Entry `json:"entry,omitempty"`
	outcomeJSON
}

func runEnqueue(ctx context.Context, e *env, args []string) (err error) {
	var c common
	var from string
	var to addresses
	var fromHeader bool
	fs := c.flags(e, "enqueue", "[FILE]", `Queue a message, read from FILE or standard input ("-" or nothing), as it
is: line endings are made CRLF when it is sent. The envelope comes from --from
and --to, or with -t from the message's header as sendmail -t takes it (the
sender from Sender or From, the recipients from To, Cc and Bcc; Bcc is removed
from the message queued); --from then overrides the sender. The message is
queued, due at once, when the command says so; a run sends it.

With --json: {"command": "enqueue", "entry": {... as list}, "ok": true, "exit_code": 0}`)
	fs.StringVar(&from, "from", "", "the envelope sender (MAIL FROM); empty is the null sender")
	fs.Var(&to, "to", "a recipient (RCPT TO); repeat it, or separate addresses with commas")
	fs.BoolVar(&fromHeader, "t", false, "take the envelope from the message's header (To, Cc, Bcc; Sender or From)")
	pos, err := parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	result := &enqueueJSON{Command: "enqueue"}
	if c.json {
		defer printJSON(e.stdout, result, &err)
	}
	fromSet := false
	fs.Visit(func(f *flag.Flag) { fromSet = fromSet || f.Name == "from" })
	switch {
	case fromHeader && len(to) > 0:
		return usageError{errors.New("-t takes the recipients from the header: give no --to with it")}
	case !fromHeader && len(to) == 0:
		return usageError{errors.New("no recipient: give --to, or -t to take them from the message's header")}
	}
	env := &smtpkit.Envelope{From: from, To: to}
	if !fromHeader {
		if err := outbox.CheckEnvelope(env); err != nil {
			return usageError{err}
		}
	}

	in := e.stdin
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return inputError{err}
		}
		defer f.Close()
		in = f
	}
	src := &readErr{r: in}
	br := bufio.NewReader(src)
	if _, err := br.Peek(1); err != nil {
		if src.err != nil {
			return inputError{fmt.Errorf("reading the message: %w", src.err)}
		}
		return dataError{errors.New("the message is empty")}
	}
	var msg io.Reader = br
	if fromHeader {
		henv, rest, err := message.ReadEnvelope(br)
		if err != nil {
			if src.err != nil {
				return inputError{fmt.Errorf("reading the message: %w", src.err)}
			}
			return dataError{fmt.Errorf("the envelope from the header: %w", err)}
		}
		env.To = henv.To
		if !fromSet {
			env.From = henv.From
		}
		msg = rest
	}

	s, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := s.Enqueue(ctx, env, msg)
	switch {
	case src.err != nil:
		return inputError{fmt.Errorf("reading the message: %w (nothing was queued)", src.err)}
	case errors.Is(err, smtpkit.ErrInvalidArgument):
		return dataError{err}
	case err != nil:
		return tryLaterError{err}
	}
	entry, err := s.Get(ctx, id)
	if err != nil {
		// Queued all the same: say so, with what is known.
		entry = &outbox.Entry{ID: id, Envelope: *env}
	}
	result.Entry = queueview.NewEntry(entry)
	if !c.json {
		fmt.Fprintf(e.stdout, "%s queued: %d bytes from <%s> to %s\n", id, entry.Size, env.From, strings.Join(env.To, ", "))
	}
	return nil
}

// readErr remembers the error of the reader it reads, so that a failed
// input is told from a failed database.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
