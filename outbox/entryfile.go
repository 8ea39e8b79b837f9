package outbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smtpkit/smtpkit"
)

// The files of an entry's directory.
const (
	messageFile = "message"    // the message, byte for byte as enqueued
	stateFile   = "entry.json" // the envelope and the delivery state
	stateTemp   = "entry.json.new"
)

// entryFile is an entry as its state file holds it: a format of its own,
// so the spool's files do not change when Entry or smtpkit.Envelope do.
type entryFile struct {
	Version    int             `json:"v"`
	ID         string          `json:"id"`
	From       string          `json:"from"`
	To         []string        `json:"to"`
	EnvSize    int64           `json:"declared_size,omitempty"`
	Body       string          `json:"body,omitempty"`
	DSN        *dsnFile        `json:"dsn,omitempty"`
	RequireTLS bool            `json:"require_tls,omitempty"`
	Size       int64           `json:"size"`
	Created    time.Time       `json:"created"`
	Attempts   int             `json:"attempts"`
	Next       time.Time       `json:"next"`
	LastError  string          `json:"last_error,omitempty"`
	Doubts     int             `json:"doubts,omitempty"`
	Recipients []recipientFile `json:"recipients"`
}

type dsnFile struct {
	Return             string   `json:"ret,omitempty"`
	EnvelopeID         string   `json:"envid,omitempty"`
	Notify             []string `json:"notify,omitempty"`
	OriginalRecipients bool     `json:"orcpt,omitempty"`
}

type recipientFile struct {
	Address  string   `json:"address"`
	Status   Status   `json:"status"`
	Code     int      `json:"code,omitempty"`
	Enhanced [3]int   `json:"enhanced"`
	Lines    []string `json:"lines,omitempty"`
	Reason   string   `json:"reason,omitempty"`
}

const entryVersion = 1

func toFile(e *Entry) *entryFile {
	f := &entryFile{
		Version: entryVersion, ID: e.ID,
		From: e.Envelope.From, To: e.Envelope.To, EnvSize: e.Envelope.Size, Body: string(e.Envelope.Body),
		RequireTLS: e.Envelope.RequireTLS,
		Size:       e.Size, Created: e.Created.UTC(), Attempts: e.Attempts, Next: e.NextAttempt.UTC(),
		LastError: e.LastError, Doubts: e.Doubts,
	}
	if d := e.Envelope.DSN; d != nil {
		f.DSN = &dsnFile{Return: d.Return, EnvelopeID: d.EnvelopeID, Notify: d.Notify, OriginalRecipients: d.OriginalRecipients}
	}
	for _, r := range e.Recipients {
		f.Recipients = append(f.Recipients, recipientFile{Address: r.Address, Status: r.Status,
			Code: r.Reply.Code, Enhanced: r.Reply.Enhanced, Lines: r.Reply.Lines, Reason: r.Reason})
	}
	return f
}

func (f *entryFile) entry() (*Entry, error) {
	if f.Version != entryVersion {
		return nil, fmt.Errorf("format version %d, want %d", f.Version, entryVersion)
	}
	if len(f.Recipients) != len(f.To) || len(f.To) == 0 {
		return nil, fmt.Errorf("%d recipients in the envelope and %d states", len(f.To), len(f.Recipients))
	}
	e := &Entry{
		ID: f.ID,
		Envelope: smtpkit.Envelope{From: f.From, To: f.To, Size: f.EnvSize, Body: smtpkit.Body(f.Body),
			RequireTLS: f.RequireTLS},
		Size: f.Size, Created: f.Created, Attempts: f.Attempts, NextAttempt: f.Next,
		LastError: f.LastError, Doubts: f.Doubts,
	}
	if d := f.DSN; d != nil {
		e.Envelope.DSN = &smtpkit.DSN{Return: d.Return, EnvelopeID: d.EnvelopeID, Notify: d.Notify, OriginalRecipients: d.OriginalRecipients}
	}
	for i, r := range f.Recipients {
		switch r.Status {
		case Pending, Delivered, Failed:
		default:
			return nil, fmt.Errorf("recipient %d has the unknown status %q", i, r.Status)
		}
		e.Recipients = append(e.Recipients, Recipient{Address: r.Address, Status: r.Status,
			Reply: smtpkit.Reply{Code: r.Code, Enhanced: r.Enhanced, Lines: r.Lines}, Reason: r.Reason})
	}
	return e, nil
}

// readEntry reads the state file of the entry directory dir.
func readEntry(dir string) (*Entry, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var f entryFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	e, err := f.entry()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if e.ID != filepath.Base(dir) {
		return nil, fmt.Errorf("%s: names entry %q", filepath.Join(dir, stateFile), e.ID)
	}
	return e, nil
}

// writeSynced writes b to a new file at path and syncs it to disk.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeEntry durably replaces the state file of the entry directory dir:
// a new file, synced, renamed over the old one, and the directory synced,
// so a crash leaves the old state or the new, never a mix.
func writeEntry(dir string, e *Entry) error {
	b, err := json.Marshal(toFile(e))
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateTemp)
	if err := writeSynced(tmp, b); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, stateFile)); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}
