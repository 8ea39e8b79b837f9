// Package queueview words the entries of an outbox as smtpkit's command
// lines show them, for the spool directory (smtpkit queue) and for
// PostgreSQL (smtpkit-outbox) alike: the JSON objects scripts read and the
// text people read.
package queueview

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
)

// Entry is a queued message as the commands show it in JSON.
type Entry struct {
	ID          string      `json:"id"`
	From        string      `json:"from"`
	To          []string    `json:"to"`
	Pending     []string    `json:"pending"`
	Size        int64       `json:"size"`
	Created     time.Time   `json:"created"`
	Attempts    int         `json:"attempts"`
	NextAttempt time.Time   `json:"next_attempt"`
	LastError   string      `json:"last_error,omitempty"`
	InDoubt     int         `json:"in_doubt,omitempty"`
	BeingSent   bool        `json:"being_sent,omitempty"`
	Recipients  []Recipient `json:"recipients"`
	Header      string      `json:"header,omitempty"`
}

// Recipient is one recipient of an Entry and where it stands.
type Recipient struct {
	Address string `json:"address"`
	Status  string `json:"status"`
	Reply   *Reply `json:"reply,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Reply is a reply of the server in JSON.
type Reply struct {
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"`
	Text     string `json:"text"`
}

// NewEntry returns the JSON of e, its times in UTC and its lists never null.
func NewEntry(e *outbox.Entry) *Entry {
	j := &Entry{ID: e.ID, From: e.Envelope.From, To: e.Envelope.To, Pending: e.Pending(), Size: e.Size,
		Created: e.Created.UTC(), Attempts: e.Attempts, NextAttempt: e.NextAttempt.UTC(), LastError: e.LastError,
		InDoubt: e.Doubts, BeingSent: e.Leased, Recipients: []Recipient{}}
	if j.Pending == nil {
		j.Pending = []string{}
	}
	for _, r := range e.Recipients {
		j.Recipients = append(j.Recipients, Recipient{Address: r.Address, Status: string(r.Status),
			Reply: NewReply(r.Reply), Reason: r.Reason})
	}
	return j
}

// NewReply returns the JSON of r, or nil when there was no reply (Code 0).
func NewReply(r smtpkit.Reply) *Reply {
	if r.Code == 0 {
		return nil
	}
	j := &Reply{Code: r.Code, Text: r.Text()}
	if r.Enhanced != [3]int{} {
		j.Enhanced = fmt.Sprintf("%d.%d.%d", r.Enhanced[0], r.Enhanced[1], r.Enhanced[2])
	}
	return j
}

// ReplyLine words a reply on one line, such as "550 5.1.1 no such user",
// the lines of a longer one joined by " / ".
func ReplyLine(code int, enhanced, text string) string {
	parts := []string{fmt.Sprint(code)}
	if enhanced != "" {
		parts = append(parts, enhanced)
	}
	if text != "" {
		parts = append(parts, strings.ReplaceAll(text, "\n", " / "))
	}
	return strings.Join(parts, " ")
}

// Line words the reply on one line, as ReplyLine does.
func (r *Reply) Line() string { return ReplyLine(r.Code, r.Enhanced, r.Text) }

// Why says why the recipient stands where it does: the server's last reply
// about it on one line, else the outbox's reason ("" when there is neither).
func (r *Recipient) Why() string {
	if r.Reply != nil {
		return r.Reply.Line()
	}
	return r.Reason
}

// maxHeader bounds the header ReadHeader reads.
const maxHeader = 64 << 10

// ReadHeader returns the header of the message r reads, up to its blank
// line and at most 64 KiB, with the line endings it has.
func ReadHeader(r io.Reader) string {
	br := bufio.NewReader(io.LimitReader(r, maxHeader))
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
