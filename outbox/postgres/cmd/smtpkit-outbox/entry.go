package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/outbox/postgres"
)

// openTimeout bounds connecting to the database and finding the tables.
const openTimeout = 30 * time.Second

// open returns the Store at the database of c.
func (c *common) open(ctx context.Context, e *env) (*postgres.Store, error) {
	url, err := c.databaseURL(e)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	s, err := postgres.Open(octx, url)
	if err != nil {
		return nil, databaseError(err)
	}
	return s, nil
}

// outcome ends every JSON object the commands print.
type outcomeJSON struct {
	OK       bool       `json:"ok"`
	Error    *errorJSON `json:"error,omitempty"`
	ExitCode int        `json:"exit_code"`
}

type errorJSON struct {
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
}

func (o *outcomeJSON) outcome() *outcomeJSON { return o }

// printJSON records the outcome of *err in result and prints result as one
// JSON object; when printing fails and nothing else did, that is the error.
func printJSON(out io.Writer, result interface{ outcome() *outcomeJSON }, err *error) {
	o := result.outcome()
	o.OK, o.ExitCode = *err == nil, exitCode(*err)
	if *err != nil {
		o.Error = &errorJSON{Message: (*err).Error(), ExitCode: o.ExitCode}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if werr := enc.Encode(result); werr != nil && *err == nil {
		*err = werr
	}
}

// entryJSON is a queued message as the commands show it, with the fields
// of "smtpkit queue list".
type entryJSON struct {
	ID          string          `json:"id"`
	From        string          `json:"from"`
	To          []string        `json:"to"`
	Pending     []string        `json:"pending"`
	Size        int64           `json:"size"`
	Created     time.Time       `json:"created"`
	Attempts    int             `json:"attempts"`
	NextAttempt time.Time       `json:"next_attempt"`
	LastError   string          `json:"last_error,omitempty"`
	InDoubt     int             `json:"in_doubt,omitempty"`
	BeingSent   bool            `json:"being_sent,omitempty"`
	Recipients  []recipientJSON `json:"recipients"`
	Header      string          `json:"header,omitempty"`
}

type recipientJSON struct {
	Address string     `json:"address"`
	Status  string     `json:"status"`
	Reply   *replyJSON `json:"reply,omitempty"`
	Reason  string     `json:"reason,omitempty"`
}

type replyJSON struct {
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"`
	Text     string `json:"text"`
}

func newEntryJSON(e *outbox.Entry) *entryJSON {
	j := &entryJSON{ID: e.ID, From: e.Envelope.From, To: e.Envelope.To, Pending: e.Pending(), Size: e.Size,
		Created: e.Created.UTC(), Attempts: e.Attempts, NextAttempt: e.NextAttempt.UTC(), LastError: e.LastError,
		InDoubt: e.Doubts, BeingSent: e.Leased, Recipients: []recipientJSON{}}
	if j.Pending == nil {
		j.Pending = []string{}
	}
	for _, r := range e.Recipients {
		j.Recipients = append(j.Recipients, recipientJSON{Address: r.Address, Status: string(r.Status),
			Reply: newReplyJSON(r.Reply), Reason: r.Reason})
	}
	return j
}

func newReplyJSON(r smtpkit.Reply) *replyJSON {
	if r.Code == 0 {
		return nil
	}
	j := &replyJSON{Code: r.Code, Text: r.Text()}
	if r.Enhanced != [3]int{} {
		j.Enhanced = fmt.Sprintf("%d.%d.%d", r.Enhanced[0], r.Enhanced[1], r.Enhanced[2])
	}
	return j
}

// replyLine words a reply on one line.
func (r *replyJSON) line() string {
	s := fmt.Sprint(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	return s + " " + strings.ReplaceAll(r.Text, "\n", " / ")
}

// printEntry prints one line of a list, and the last failure.
func printEntry(out io.Writer, e *entryJSON) {
	fmt.Fprintf(out, "%s  %d bytes, queued %s, %d attempt(s), next: %s\n", e.ID, e.Size,
		ago(e.Created), e.Attempts, nextAttempt(e))
	fmt.Fprintf(out, "  from <%s> to %s\n", e.From, strings.Join(e.Pending, ", "))
	if e.LastError != "" {
		fmt.Fprintf(out, "  last: %s\n", e.LastError)
	}
}

// ago says how long ago t was, to the second.
func ago(t time.Time) string {
	return time.Since(t).Round(time.Second).String() + " ago"
}

// nextAttempt says when an entry goes next.
func nextAttempt(e *entryJSON) string {
	switch {
	case e.BeingSent:
		return "being sent now"
	case !e.NextAttempt.After(time.Now()):
		return "due now"
	}
	return fmt.Sprintf("%s (in %s)", e.NextAttempt.Local().Format(time.DateTime), time.Until(e.NextAttempt).Round(time.Second))
}

// maxHeaderText bounds the header show reads.
const maxHeaderText = 64 << 10

// readHeaderText returns the header of a message, up to its blank line.
func readHeaderText(r io.Reader) string {
	br := bufio.NewReader(io.LimitReader(r, maxHeaderText))
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if strings.TrimRight(line, "\r\n") == "" {
			break
		}
		b.WriteString(line)
		if err != nil {
			break
		}
	}
	return b.String()
}
