package outbox

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/smtpkit/smtpkit"
)

// Store keeps the entries of an outbox durably; Spool is the one in this
// package, and a store on a database implements the same methods. Every
// method must be safe for concurrent use, by goroutines and by processes
// sharing the store.
//
// An entry is delivered under a lease: Claim hands it to one caller only,
// and Update, Release and Finish act on it only while that lease holds
// (they fail with ErrLeaseLost otherwise). A lease ends with Release or
// Finish, and on its own when its holder dies, so a crashed runner never
// keeps an entry from the others.
type Store interface {
	// Enqueue stores a message and its envelope, reading msg to its end
	// without holding it in memory, and returns the new entry's ID once
	// both are durable.
	Enqueue(ctx context.Context, env *smtpkit.Envelope, msg io.Reader) (id string, err error)
	// Claim leases the entry that has been due longest, for at most lease.
	// When none is due it returns a nil entry and when the next one falls
	// due (zero when it does not know of one).
	Claim(ctx context.Context, lease time.Duration) (e *Entry, next time.Time, err error)
	// Open returns an entry's message, from its first byte; the reader is
	// an io.Seeker when the store can rewind it.
	Open(ctx context.Context, id string) (io.ReadCloser, error)
	// Update durably records the state of a leased entry (its recipients,
	// attempts, next attempt and last error); the lease goes on.
	Update(ctx context.Context, e *Entry) error
	// Release ends the lease of an entry, which stays queued.
	Release(ctx context.Context, e *Entry) error
	// Finish removes a leased entry from the store for good.
	Finish(ctx context.Context, e *Entry) error
	// List returns every entry, oldest first.
	List(ctx context.Context) ([]Entry, error)
	// Get returns one entry, or an error matching ErrNotFound.
	Get(ctx context.Context, id string) (*Entry, error)
	// Retry makes an entry that nobody holds due now.
	Retry(ctx context.Context, id string) error
	// Delete removes an entry that nobody holds, without delivering it.
	Delete(ctx context.Context, id string) error
}

// Waker is implemented by a Store that can tell its Runners at once when
// an entry may have fallen due (enqueued, released or retried, by this
// process or another), so that they need not wait for PollInterval.
type Waker interface {
	// Wake returns a channel that is closed at the next such event.
	Wake() <-chan struct{}
}

// CheckEnvelope returns an error matching smtpkit.ErrInvalidArgument when
// no attempt could ever send env (see smtpkit.Envelope.Validate): no
// recipient, an address that breaks the rules of package message, an
// unknown body type or DSN keyword. A Store's Enqueue calls it before it
// writes anything.
func CheckEnvelope(env *smtpkit.Envelope) error { return checkEnvelope(env) }

// Errors of a Store, matched with errors.Is.
var (
	// ErrNotFound means no entry has the ID given; it may have been delivered.
	ErrNotFound = errors.New("no such entry in the outbox (it may have been delivered or deleted)")
	// ErrBusy means a runner holds the entry right now; try again once its attempt is over.
	ErrBusy = errors.New("the entry is being delivered right now; try again in a moment")
	// ErrLeaseLost means the caller no longer holds the lease it acts under; another runner may have the entry.
	ErrLeaseLost = errors.New("the lease on the entry is no longer held")
)

// Entry is one queued message: its envelope, where each recipient stands,
// and when it is tried next.
type Entry struct {
	// ID names the entry in its store.
	ID string
	// Envelope is the envelope as enqueued; Envelope.To lists every
	// recipient, delivered or not.
	Envelope smtpkit.Envelope
	// Size is the message's size in bytes, as stored.
	Size int64
	// Created is when the entry was enqueued.
	Created time.Time
	// Attempts counts the delivery attempts made so far.
	Attempts int
	// NextAttempt is when the entry is due.
	NextAttempt time.Time
	// LastError says why the last attempt did not reach every recipient; "" when it did or none was made.
	LastError string
	// Doubts counts the attempts that sent the message to its end and
	// heard no reply to it (RFC 1047): each may have delivered a copy that
	// a later attempt delivers again.
	Doubts int
	// Recipients holds where each recipient stands, in Envelope.To order.
	Recipients []Recipient
	// Leased reports, in List and Get, whether a runner held the entry at that moment.
	Leased bool
	// Lease is the token of the lease the entry was claimed under; "" when it was not claimed.
	Lease string
}

// Recipient is where one recipient of an entry stands.
type Recipient struct {
	// Address is the recipient's address, as in Envelope.To.
	Address string
	// Status is Pending, Delivered or Failed.
	Status Status
	// Reply is the server's last reply about this recipient: its answer to
	// RCPT, or to the end of the data once it was accepted; zero when the
	// server said nothing about it.
	Reply smtpkit.Reply
	// Reason says in words why the recipient is not delivered yet or failed, when Reply does not.
	Reason string
}

// Status says whether a recipient is still to be delivered.
type Status string

// The statuses of a recipient.
const (
	Pending   Status = "pending"   // still to be delivered
	Delivered Status = "delivered" // the server accepted the message for it
	Failed    Status = "failed"    // refused for good, or given up on after MaxAge
)

// Pending returns the addresses still to be delivered, in Envelope.To order.
func (e *Entry) Pending() []string { return e.with(Pending) }

// Failed returns the recipients that failed for good.
func (e *Entry) Failed() []Recipient {
	var out []Recipient
	for _, r := range e.Recipients {
		if r.Status == Failed {
			out = append(out, r)
		}
	}
	return out
}

func (e *Entry) with(s Status) []string {
	var out []string
	for _, r := range e.Recipients {
		if r.Status == s {
			out = append(out, r.Address)
		}
	}
	return out
}

// clone returns a copy of e that shares no memory with it.
func (e *Entry) clone() Entry {
	c := *e
	c.Envelope.To = slices.Clone(e.Envelope.To)
	if e.Envelope.DSN != nil {
		d := *e.Envelope.DSN
		d.Notify = slices.Clone(d.Notify)
		c.Envelope.DSN = &d
	}
	c.Recipients = slices.Clone(e.Recipients)
	for i := range c.Recipients {
		c.Recipients[i].Reply.Lines = slices.Clone(c.Recipients[i].Reply.Lines)
	}
	return c
}
