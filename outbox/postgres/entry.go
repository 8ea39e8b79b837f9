package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
)

// envelopeJSON is an envelope as the envelope column holds it: a format
// of its own, so the rows do not change when smtpkit.Envelope does.
type envelopeJSON struct {
	From       string   `json:"from"`
	To         []string `json:"to"`
	Size       int64    `json:"declared_size,omitempty"`
	Body       string   `json:"body,omitempty"`
	DSN        *dsnJSON `json:"dsn,omitempty"`
	RequireTLS bool     `json:"require_tls,omitempty"`
}

type dsnJSON struct {
	Return             string   `json:"ret,omitempty"`
	EnvelopeID         string   `json:"envid,omitempty"`
	Notify             []string `json:"notify,omitempty"`
	OriginalRecipients bool     `json:"orcpt,omitempty"`
}

// recipientJSON is a recipient's state as the recipients column holds it.
type recipientJSON struct {
	Address  string        `json:"address"`
	Status   outbox.Status `json:"status"`
	Code     int           `json:"code,omitempty"`
	Enhanced [3]int        `json:"enhanced"`
	Lines    []string      `json:"lines,omitempty"`
	Reason   string        `json:"reason,omitempty"`
}

func encodeEnvelope(env *smtpkit.Envelope) ([]byte, error) {
	j := envelopeJSON{From: env.From, To: env.To, Size: env.Size, Body: string(env.Body), RequireTLS: env.RequireTLS}
	if d := env.DSN; d != nil {
		j.DSN = &dsnJSON{Return: d.Return, EnvelopeID: d.EnvelopeID, Notify: d.Notify, OriginalRecipients: d.OriginalRecipients}
	}
	return json.Marshal(j)
}

func encodeRecipients(rs []outbox.Recipient) ([]byte, error) {
	out := make([]recipientJSON, len(rs))
	for i, r := range rs {
		out[i] = recipientJSON{Address: r.Address, Status: r.Status, Code: r.Reply.Code, Enhanced: r.Reply.Enhanced,
			Lines: r.Reply.Lines, Reason: r.Reason}
	}
	return json.Marshal(out)
}

// entryColumns are the columns scanEntry reads, in its order.
const entryColumns = `id, envelope, recipients, size, created, attempts, next_attempt, last_error, doubts,
	lease_token IS NOT NULL AND lease_until > clock_timestamp() AS leased`

// scanEntry reads a row of entryColumns, and into more the columns after them.
func scanEntry(row pgx.Row, more ...any) (*outbox.Entry, error) {
	var e outbox.Entry
	var env, rcpts []byte
	var created, next time.Time
	dest := append([]any{&e.ID, &env, &rcpts, &e.Size, &created, &e.Attempts, &next, &e.LastError, &e.Doubts, &e.Leased}, more...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	e.Created, e.NextAttempt = created, next
	var ej envelopeJSON
	if err := json.Unmarshal(env, &ej); err != nil {
		return nil, fmt.Errorf("outbox/postgres: entry %s: its envelope: %w", e.ID, err)
	}
	e.Envelope = smtpkit.Envelope{From: ej.From, To: ej.To, Size: ej.Size, Body: smtpkit.Body(ej.Body), RequireTLS: ej.RequireTLS}
	if d := ej.DSN; d != nil {
		e.Envelope.DSN = &smtpkit.DSN{Return: d.Return, EnvelopeID: d.EnvelopeID, Notify: d.Notify, OriginalRecipients: d.OriginalRecipients}
	}
	var rj []recipientJSON
	if err := json.Unmarshal(rcpts, &rj); err != nil {
		return nil, fmt.Errorf("outbox/postgres: entry %s: its recipients: %w", e.ID, err)
	}
	if len(rj) != len(ej.To) || len(rj) == 0 {
		return nil, fmt.Errorf("outbox/postgres: entry %s: %d recipients in the envelope and %d states", e.ID, len(ej.To), len(rj))
	}
	for i, r := range rj {
		switch r.Status {
		case outbox.Pending, outbox.Delivered, outbox.Failed:
		default:
			return nil, fmt.Errorf("outbox/postgres: entry %s: recipient %d has the unknown status %q", e.ID, i, r.Status)
		}
		e.Recipients = append(e.Recipients, outbox.Recipient{Address: r.Address, Status: r.Status,
			Reply: smtpkit.Reply{Code: r.Code, Enhanced: r.Enhanced, Lines: r.Lines}, Reason: r.Reason})
	}
	return &e, nil
}
