package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smtpkit/smtpkit"
)

// Defaults of a Runner's zero fields.
const (
	DefaultMaxAge       = 5 * 24 * time.Hour // Postfix's maximal_queue_lifetime
	DefaultMinDelay     = time.Minute
	DefaultMaxDelay     = time.Hour
	DefaultLease        = 15 * time.Minute
	DefaultPollInterval = 15 * time.Second
)

// DefaultBatchSize is how many entries a connection takes at a time when
// Runner.BatchSize is zero, as Pool.SendAll's batches.
const DefaultBatchSize = 32

// maxRecording bounds the outcomes recorded at once.
const maxRecording = 16

// recordLimit bounds the bookkeeping after an attempt.
const recordLimit = 30 * time.Second

// Runner delivers the entries of a Store through a Pool, retrying
// transient failures with exponential backoff until MaxAge. Its zero
// fields take the defaults above; Store and Pool are required. Several
// Runners, in one process or many, may share a Store: each entry is
// attempted by one at a time. A Runner must not be copied after first use.
type Runner struct {
	// Store holds the entries.
	Store Store
	// Pool sends them; its Addr is the server every entry goes to.
	Pool *smtpkit.Pool
	// Concurrency is how many batches are in flight at once; zero means
	// Pool.MaxConns, or 4 when that is zero too.
	Concurrency int
	// BatchSize is how many due entries are claimed and sent together on
	// one connection, their transactions pipelined when the server offers
	// PIPELINING and CHUNKING. Every message of a batch whose data went out
	// and whose reply was not read yet is in the RFC 1047 window when the
	// connection dies: 1 narrows it to one message per connection, at the
	// cost of a round trip per message. Zero means DefaultBatchSize.
	BatchSize int
	// MaxAge is how long an entry may stay queued: a recipient still
	// failing transiently after that fails for good. Zero means DefaultMaxAge.
	MaxAge time.Duration
	// MinDelay is the wait before the first retry; each retry waits twice
	// as long as the one before, up to MaxDelay, less a random part of up
	// to half, so entries that failed together do not return together.
	// Zero means DefaultMinDelay.
	MinDelay time.Duration
	// MaxDelay bounds the wait between two attempts; zero means DefaultMaxDelay.
	MaxDelay time.Duration
	// Lease bounds one attempt: its sending is cut off at nine tenths of
	// it, so a store whose leases expire by time never sees an entry held
	// longer. Zero means DefaultLease.
	Lease time.Duration
	// PollInterval is how often Run looks for entries that another process
	// enqueued when nothing tells it sooner; zero means DefaultPollInterval.
	PollInterval time.Duration
	// Report, when not nil, is called once an entry leaves the queue,
	// delivered or not: the Failed recipients say why. It is called from
	// the Runner's goroutines, and again for the same entry only if the
	// process died before the entry was removed.
	Report func(Entry)
	// Bounce enqueues a delivery status notification (RFC 3464) to the
	// envelope sender of an entry that failed for some recipient, unless
	// the sender is null or its DSN request excludes FAILURE. Only
	// failures are notified; a request for SUCCESS or DELAY goes on to
	// the server with the message.
	Bounce bool
	// BounceFrom is the From header of those notifications; empty means
	// "Mail Delivery System <MAILER-DAEMON@host>" with this host's name.
	BounceFrom string
	// Logger, when not nil, receives deferrals, failures and store errors.
	Logger *slog.Logger

	attempts, delivered, deferred, failed, inDoubt, bounces, storeErrors atomic.Int64

	mu          sync.Mutex
	unrecorded  map[string]memo // outcomes the store failed to record, by entry ID
	pausedUntil time.Time       // no claims before, after the store failed
	storeErr    error           // why
}

// memo is an outcome the store failed to record. It is applied when its
// entry is claimed again, so that a recipient delivered is not sent to
// again by this process while the store's disk fails.
type memo struct {
	e     Entry
	ended bool // its bounce and report are done; only its removal is left
}

// remember keeps the outcome the store failed to record and pauses the
// claims for MinDelay.
func (r *Runner) remember(e *Entry, ended bool, err error) {
	r.storeErrors.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unrecorded == nil {
		r.unrecorded = map[string]memo{}
	}
	r.unrecorded[e.ID] = memo{e: e.clone(), ended: ended}
	r.pausedUntil = time.Now().Add(orDefault(r.MinDelay, DefaultMinDelay))
	r.storeErr = err
}

// recorded forgets what remember kept of the entry id.
func (r *Runner) recorded(id string) {
	r.mu.Lock()
	delete(r.unrecorded, id)
	r.mu.Unlock()
}

// recall applies to e the outcome remember kept of it, if any, and says
// whether e was ended.
func (r *Runner) recall(e *Entry) (ended bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.unrecorded[e.ID]
	if !ok {
		return false
	}
	lease := e.Lease
	*e = m.e.clone()
	e.Lease = lease
	return m.ended
}

// paused returns how long claims wait still after the store failed, and why.
func (r *Runner) paused() (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Until(r.pausedUntil), r.storeErr
}

// Stats counts what a Runner did since it was made.
type Stats struct {
	Attempts  int64 // entries tried: one per entry per attempt
	Delivered int64 // recipients the server accepted the message for
	Deferred  int64 // attempts that left recipients to try again later
	Failed    int64 // recipients given up on: refused for good, or past MaxAge
	// InDoubt counts attempts that sent the message to its end and heard
	// no reply to it (RFC 1047): each may have delivered a copy that is
	// sent again. It bounds the second copies this Runner's attempts can
	// have caused, but for those of a process killed before it recorded
	// a reply.
	InDoubt int64
	Bounces int64 // delivery status notifications enqueued
	// StoreErrors counts failures of the Store, which the Runner logged.
	// An outcome the store failed to record is kept in memory and applied
	// when its entry comes back, and claims pause for MinDelay (Flush
	// returns the error).
	StoreErrors int64
}

// Stats returns what r did so far.
func (r *Runner) Stats() Stats {
	return Stats{
		Attempts: r.attempts.Load(), Delivered: r.delivered.Load(), Deferred: r.deferred.Load(),
		Failed: r.failed.Load(), InDoubt: r.inDoubt.Load(), Bounces: r.bounces.Load(),
		StoreErrors: r.storeErrors.Load(),
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run delivers entries as they fall due until ctx ends, then returns nil
// once the attempts under way are recorded. Ending ctx cuts those attempts
// short: their entries are due again at once, and one cut off after its
// message was read to its end counts as InDoubt.
func (r *Runner) Run(ctx context.Context) error { return r.run(ctx, false) }

// Flush delivers every entry that is due now, once, and returns when each
// has been attempted (as "sendmail -q" does); entries that fail
// transiently stay queued for later. It returns the first error of the
// Store that kept it from an entry.
func (r *Runner) Flush(ctx context.Context) error { return r.run(ctx, true) }

func (r *Runner) run(ctx context.Context, once bool) error {
	if r.Store == nil || r.Pool == nil {
		return errors.New("outbox: a Runner needs a Store and a Pool")
	}
	n := r.Concurrency
	if n <= 0 {
		n = r.Pool.MaxConns
	}
	if n <= 0 {
		n = 4
	}
	rs := &runState{recording: make(chan struct{}, maxRecording)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range n {
		wg.Go(func() {
			if err := r.work(ctx, rs, once); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	rs.records.Wait()
	if d, err := r.paused(); once && first == nil && d > 0 {
		first = fmt.Errorf("outbox: the store failed to record an outcome: %w", err)
	}
	return first
}

// work claims batches of due entries and delivers them, until ctx ends
// or, once, until nothing is due.
func (r *Runner) work(ctx context.Context, rs *runState, once bool) error {
	notified := func() <-chan struct{} { return nil }
	switch s := r.Store.(type) {
	case Waker:
		notified = s.Wake
	case interface{ enqueued() <-chan struct{} }:
		notified = s.enqueued
	}
	for ctx.Err() == nil {
		if d, err := r.paused(); d > 0 {
			if once {
				return fmt.Errorf("outbox: the store failed to record an outcome: %w", err)
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		wake := notified()
		batch, next, err := r.claim(ctx)
		if len(batch) > 0 {
			r.deliver(ctx, rs, batch)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			r.storeErrors.Add(1)
			r.logger().Error("outbox: claiming entries failed", "err", err)
			if once {
				return err
			}
			next = time.Time{}
		case len(batch) > 0:
			continue
		case once:
			return nil
		}
		wait := orDefault(r.PollInterval, DefaultPollInterval)
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-wake:
		}
		t.Stop()
	}
	return nil
}

// claim leases up to BatchSize due entries.
func (r *Runner) claim(ctx context.Context) ([]*Entry, time.Time, error) {
	n := r.BatchSize
	if n <= 0 {
		n = DefaultBatchSize
	}
	var batch []*Entry
	for len(batch) < n {
		e, next, err := r.Store.Claim(ctx, orDefault(r.Lease, DefaultLease))
		if err != nil || e == nil {
			return batch, next, err
		}
		batch = append(batch, e)
	}
	return batch, time.Time{}, nil
}

// runState is what the workers of one Run or Flush share.
type runState struct {
	// records are the outcomes being recorded. They wait on the disk while
	// the next batch goes out (the entries stay leased until recorded),
	// and concurrent syncs of one directory share their journal commits.
	records   sync.WaitGroup
	recording chan struct{} // bounds the records under way
}

// deliver makes one attempt at each entry of batch, over the Pool, and
// records each outcome as soon as it is known.
func (r *Runner) deliver(ctx context.Context, rs *runState, batch []*Entry) {
	lease := orDefault(r.Lease, DefaultLease)
	attempt, cancel := context.WithTimeout(ctx, lease*9/10)
	defer cancel()
	var sending []*Entry
	var readers []*attemptReader
	var mails []smtpkit.Mail
	for _, e := range batch {
		ended := r.recall(e)
		pending := e.Pending()
		if len(pending) == 0 {
			// Its end was recorded by a process that died before removing
			// it, or by this one when the store failed.
			bg, cancel := bookkeeping(ctx)
			r.end(bg, e, ended)
			cancel()
			continue
		}
		msg, err := r.Store.Open(ctx, e.ID)
		if err != nil {
			r.storeErrors.Add(1)
			r.record(ctx, e, nil, fmt.Errorf("outbox: opening the message: %w", err))
			continue
		}
		defer msg.Close()
		env := e.Envelope
		env.To = pending
		if env.Size == 0 {
			env.Size = e.Size
		}
		ar := &attemptReader{r: msg}
		sending = append(sending, e)
		readers = append(readers, ar)
		mails = append(mails, smtpkit.Mail{Envelope: env, Message: ar})
	}
	// Rounds: a message of which not a byte was read when its connection
	// broke goes again at once, for as long as each round gets some
	// message through. Any other outcome is recorded as soon as known.
	round := make([]int, len(mails))
	for i := range round {
		round[i] = i
	}
	record := func(e *Entry, res *smtpkit.Result, err error) {
		rs.recording <- struct{}{}
		rs.records.Go(func() {
			defer func() { <-rs.recording }()
			r.record(ctx, e, res, err)
		})
	}
	for len(round) > 0 {
		var mu sync.Mutex
		var again []int
		results := make([]smtpkit.BatchResult, len(round))
		group := make([]smtpkit.Mail, len(round))
		for k, i := range round {
			group[k] = mails[i]
		}
		r.Pool.SendAll(attempt, group, func(k int, br smtpkit.BatchResult) {
			i := round[k]
			if br.Err != nil && readers[i].untouched() && attempt.Err() == nil {
				mu.Lock()
				again = append(again, i)
				results[k] = br
				mu.Unlock()
				return
			}
			record(sending[i], br.Result, br.Err)
		})
		if len(again) == len(round) || attempt.Err() != nil {
			for k, i := range round {
				if slices.Contains(again, i) {
					record(sending[i], results[k].Result, results[k].Err)
				}
			}
			return
		}
		round = again
	}
}

// record applies the outcome of one attempt to e, then ends e or schedules
// its next attempt. ctx is the Runner's: the bookkeeping goes on, bounded,
// after it ends.
func (r *Runner) record(ctx context.Context, e *Entry, res *smtpkit.Result, err error) {
	stopped := ctx.Err() != nil
	bg, cancel := bookkeeping(ctx)
	defer cancel()
	now := time.Now()
	var idx []int
	for i, rc := range e.Recipients {
		if rc.Status == Pending {
			idx = append(idx, i)
		}
	}
	verdicts, doubt := judge(len(idx), res, err)
	r.attempts.Add(1)
	e.Attempts++
	e.LastError = ""
	if err != nil {
		e.LastError = err.Error()
	}
	if doubt {
		e.Doubts++
		r.inDoubt.Add(1)
	}
	for k, i := range idx {
		v := verdicts[k]
		e.Recipients[i].Status, e.Recipients[i].Reply, e.Recipients[i].Reason = v.status, v.reply, v.reason
		switch v.status {
		case Delivered:
			r.delivered.Add(1)
		case Pending:
			if e.LastError == "" {
				e.LastError = v.reply.String()
			}
		}
	}
	if len(e.Pending()) > 0 {
		maxAge := orDefault(r.MaxAge, DefaultMaxAge)
		if age := now.Sub(e.Created); age >= maxAge {
			for i := range e.Recipients {
				if rc := &e.Recipients[i]; rc.Status == Pending {
					rc.Status = Failed
					last := rc.Reason
					if last == "" {
						last = rc.Reply.String()
					}
					rc.Reason = fmt.Sprintf("given up after %v in the queue (MaxAge %v); last: %s",
						age.Round(time.Second), maxAge, last)
				}
			}
		}
	}
	if len(e.Pending()) == 0 {
		r.end(bg, e, false)
		return
	}
	r.deferred.Add(1)
	e.NextAttempt = now
	if !stopped {
		e.NextAttempt = now.Add(r.backoff(e.Attempts))
	}
	r.logger().Info("outbox: deferred", "id", e.ID, "pending", len(e.Pending()), "attempts", e.Attempts,
		"next", e.NextAttempt, "in_doubt", doubt, "err", e.LastError)
	if err := r.Store.Update(bg, e); err != nil {
		r.remember(e, false, err)
		r.logger().Error("outbox: recording an attempt failed", "id", e.ID, "err", err)
	} else {
		r.recorded(e.ID)
	}
	if err := r.Store.Release(bg, e); err != nil {
		r.storeErrors.Add(1)
		r.logger().Error("outbox: releasing an entry failed", "id", e.ID, "err", err)
	}
}

// bookkeeping returns the context of the store's work after an attempt:
// it goes on, bounded, when ctx has ended, because a record dropped costs
// a second copy.
func bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordLimit)
}

// backoff returns the wait after the given number of attempts: MinDelay
// doubled for each attempt after the first, up to MaxDelay, less a random
// part of up to half.
func (r *Runner) backoff(attempts int) time.Duration {
	lo, hi := orDefault(r.MinDelay, DefaultMinDelay), orDefault(r.MaxDelay, DefaultMaxDelay)
	d := lo
	for i := 1; i < attempts && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - rand.N(d/2+1)
}

// end takes an entry with no recipient pending out of the queue: its
// state recorded first when some recipient failed (so a crash never sends
// to the others again), then the bounce, the report, and the removal.
// ended says the bounce and the report were done already.
func (r *Runner) end(ctx context.Context, e *Entry, ended bool) {
	failed := e.Failed()
	if len(failed) > 0 && !ended {
		r.failed.Add(int64(len(failed)))
		r.logger().Warn("outbox: failed", "id", e.ID, "failed", len(failed), "err", failed[0].why())
		if err := r.Store.Update(ctx, e); err != nil {
			r.remember(e, false, err)
			r.logger().Error("outbox: recording a failure failed", "id", e.ID, "err", err)
			r.Store.Release(ctx, e)
			return
		}
		if r.Bounce && wantsBounce(e) {
			msg, done := r.bounceMessage(ctx, e)
			id, err := r.Store.Enqueue(ctx, &smtpkit.Envelope{To: []string{e.Envelope.From}}, msg)
			done()
			if err != nil {
				r.storeErrors.Add(1)
				r.logger().Error("outbox: enqueueing a bounce failed", "id", e.ID, "err", err)
			} else {
				r.bounces.Add(1)
				r.logger().Info("outbox: bounce enqueued", "id", e.ID, "bounce", id, "to", e.Envelope.From)
			}
		}
		if r.Report != nil {
			r.Report(e.clone())
		}
	}
	if err := r.Store.Finish(ctx, e); err != nil {
		r.remember(e, len(failed) > 0 || ended, err)
		r.logger().Error("outbox: removing an entry failed", "id", e.ID, "err", err)
		return
	}
	r.recorded(e.ID)
	if len(failed) == 0 && !ended && r.Report != nil {
		r.Report(e.clone())
	}
}

// why says in words why a recipient failed.
func (rc Recipient) why() string {
	if rc.Reason != "" {
		return rc.Reason
	}
	return rc.Reply.String()
}
