package main

import (
	"context"
	"fmt"
	"time"

	"github.com/smtpkit/smtpkit/internal/queueview"
)

type listJSON struct {
	Command string             `json:"command"`
	Entries []*queueview.Entry `json:"entries"`
	outcomeJSON
}

func runList(ctx context.Context, e *env, args []string) (err error) {
	var c common
	fs := c.flags(e, "list", "", `List the messages waiting in the outbox, oldest first: the ID, the size, when
it was queued, the attempts made, when the next one is due, the sender and the
recipients still pending, and the last failure.

With --json: {"command": "list", "entries": [{"id", "from", "to", "pending",
"size", "created", "attempts", "next_attempt", "last_error", "in_doubt",
"being_sent", "recipients": [{"address", "status", "reply", "reason"}]}],
"ok": true, "exit_code": 0}`)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	result := &listJSON{Command: "list", Entries: []*queueview.Entry{}}
	if c.json {
		defer printJSON(e.stdout, result, &err)
	}
	s, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	entries, err := s.List(ctx)
	if err != nil {
		return err
	}
	for i := range entries {
		result.Entries = append(result.Entries, queueview.NewEntry(&entries[i]))
	}
	if c.json {
		return nil
	}
	if len(entries) == 0 {
		fmt.Fprintln(e.stdout, "The outbox is empty")
		return nil
	}
	fmt.Fprintf(e.stdout, "%d message(s) in the outbox\n", len(entries))
	now := time.Now()
	for _, ej := range result.Entries {
		queueview.WriteLine(e.stdout, ej, now)
	}
	return nil
}

type showJSON struct {
	Command string           `json:"command"`
	Entry   *queueview.Entry `json:"entry,omitempty"`
	outcomeJSON
}

func runShow(ctx context.Context, e *env, args []string) (err error) {
	var c common
	fs := c.flags(e, "show", "ID", `Show one message of the outbox: the envelope, where each recipient stands
(pending, delivered, failed) with the server's last reply about it, the
attempts made, and the message's header.

With --json: {"command": "show", "entry": {... as list, and "header"}, "ok": true, "exit_code": 0}`)
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	result := &showJSON{Command: "show"}
	if c.json {
		defer printJSON(e.stdout, result, &err)
	}
	s, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	entry, err := s.Get(ctx, pos[0])
	if err != nil {
		return entryError(err)
	}
	ej := queueview.NewEntry(entry)
	if msg, err := s.Open(ctx, entry.ID); err == nil {
		ej.Header = queueview.ReadHeader(msg)
		msg.Close()
	}
	result.Entry = ej
	if !c.json {
		queueview.WriteShow(e.stdout, ej, "", time.Now())
	}
	return nil
}

type idJSON struct {
	Command string `json:"command"`
	ID      string `json:"id"`
	outcomeJSON
}

// runID runs retry or delete.
func runID(ctx context.Context, e *env, verb string, args []string) (err error) {
	what := "Make a queued message due now: the next run sends it."
	if verb == "delete" {
		what = "Remove a queued message without sending it."
	}
	var c common
	fs := c.flags(e, verb, "ID", what+` A message being sent right now cannot be
touched: exit 75, try again in a moment.

With --json: {"command": "`+verb+`", "id": "...", "ok": true, "exit_code": 0}`)
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	result := &idJSON{Command: verb, ID: pos[0]}
	if c.json {
		defer printJSON(e.stdout, result, &err)
	}
	s, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	if verb == "retry" {
		err = s.Retry(ctx, pos[0])
	} else {
		err = s.Delete(ctx, pos[0])
	}
	if err != nil {
		return entryError(err)
	}
	if !c.json {
		if verb == "retry" {
			fmt.Fprintf(e.stdout, "%s is due now: the next run sends it\n", pos[0])
		} else {
			fmt.Fprintf(e.stdout, "%s deleted: it will not be sent\n", pos[0])
		}
	}
	return nil
}
