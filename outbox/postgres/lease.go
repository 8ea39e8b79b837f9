package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smtpkit/smtpkit/outbox"
)

// claimSQL leases up to $4 of the free entries that have been due
// longest, and reads the messages of those of one chunk up to $5 bytes.
// SKIP LOCKED lets concurrent claims pass each other instead of queueing
// on one row; ARRAY() runs the choice once.
const claimSQL = `WITH claimed AS (
	UPDATE smtpkit_outbox_entries
	SET lease_token = $1 || '.' || id, lease_holder = $2, lease_until = clock_timestamp() + $3 * interval '1 microsecond'
	WHERE id = ANY(ARRAY(
		SELECT id FROM smtpkit_outbox_entries
		WHERE lease_token IS NULL AND next_attempt <= clock_timestamp()
		ORDER BY next_attempt, id
		LIMIT $4
		FOR UPDATE SKIP LOCKED))
	RETURNING ` + entryColumns + `, chunk_size
)
SELECT claimed.*, (SELECT data FROM smtpkit_outbox_chunks c
	WHERE c.entry_id = claimed.id AND c.seq = 0 AND claimed.size <= least($5, claimed.chunk_size))
FROM claimed`

// prefetchMax bounds the messages a claim reads with their entries, for
// Open: a Runner opens every message it claims, at once.
const prefetchMax = 64 << 10

// nextSQL says when the next free entry falls due, and whether any entry is leased.
const nextSQL = `SELECT
	(SELECT next_attempt FROM smtpkit_outbox_entries WHERE lease_token IS NULL ORDER BY next_attempt, id LIMIT 1),
	EXISTS (SELECT 1 FROM smtpkit_outbox_entries WHERE lease_token IS NOT NULL)`

// claimBlock is how many due entries one statement claims at most. A
// Runner claims its batches one entry at a time, and a statement (and its
// commit) for several costs far less than one for each; the entries not
// handed out yet wait in the Store for its next Claim, leased.
const claimBlock = 8

// held is an entry claimed and not handed out yet.
type held struct {
	e     *outbox.Entry
	at    time.Time
	lease time.Duration
}

// Claim leases the free entry that has been due longest, for at most
// lease, and returns it with its Lease token set. When none is due it
// returns nil and when to look again: when the next entry falls due, or
// soon when other runners hold entries (their holder may die).
//
// One statement claims up to 8 due entries: Claim hands out the others at
// its next calls, which the Runner makes at once while it fills a batch,
// and takes them back when they waited for a tenth of their lease. With a
// Limit of PerSecond, each entry handed out takes a token of the
// destination's bucket; when there is none, Claim returns nil and when
// there will be one.
//
// A lease ends with Release or Finish; with its holder, at once, when the
// holder's Store closes or its process dies however it dies (the next
// Claim or dial of any process on these tables frees it); or, failing
// both, when lease has passed (a holder cut off from the database).
func (s *Store) Claim(ctx context.Context, lease time.Duration) (e *outbox.Entry, next time.Time, err error) {
	if s.opts.Limit.PerSecond > 0 {
		wait, err := s.take(ctx)
		if err != nil {
			return nil, time.Time{}, err
		}
		if wait > 0 {
			return nil, time.Now().Add(wait), nil
		}
		defer func() {
			if e == nil {
				s.refund(context.WithoutCancel(ctx))
			}
		}()
	}
	return s.claim(ctx, lease)
}

// claim is Claim without the rate limit.
func (s *Store) claim(ctx context.Context, lease time.Duration) (*outbox.Entry, time.Time, error) {
	if e := s.takeHeld(ctx, lease); e != nil {
		return e, time.Time{}, nil
	}
	holder, gen, err := s.sess.current(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := s.rescueNow(ctx); err != nil {
		return nil, time.Time{}, err
	}
	prefix := newToken()
	rows, err := s.db.Query(ctx, claimSQL, prefix, holder, lease.Microseconds(), claimBlock, prefetchMax)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("outbox/postgres: claiming entries: %w", err)
	}
	var got []*outbox.Entry
	bodies := map[string]prefetched{}
	for rows.Next() {
		var p prefetched
		e, err := scanEntry(rows, &p.chunkSize, &p.data)
		if err == nil && (p.data != nil || e.Size == 0) {
			p.size = e.Size
			bodies[e.ID] = p
		}
		if err != nil {
			rows.Close()
			s.giveBackClaim(ctx, prefix)
			return nil, time.Time{}, err
		}
		e.Lease = prefix + "." + e.ID
		got = append(got, e)
	}
	if err := rows.Err(); err != nil {
		s.giveBackClaim(ctx, prefix)
		return nil, time.Time{}, fmt.Errorf("outbox/postgres: claiming entries: %w", err)
	}
	if len(got) == 0 {
		next, err := s.next(ctx)
		return nil, next, err
	}
	slices.SortFunc(got, func(a, b *outbox.Entry) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.ID, b.ID))
	})
	now := time.Now()
	s.mu.Lock()
	for _, e := range got {
		s.leases[e.Lease] = e.ID
		if b, ok := bodies[e.ID]; ok {
			s.bodies[e.ID] = b
		}
	}
	for _, e := range got[1:] {
		s.held = append(s.held, held{e: e, at: now, lease: lease})
	}
	s.mu.Unlock()
	if s.sess.generation() != gen {
		// The session changed while the leases were taken under its old
		// PID, and adopt may have run before they were recorded.
		if err := s.adopt(ctx, 0); err != nil {
			s.logger().Error("outbox/postgres: moving leases to the new session failed", "err", err)
		}
	}
	return got[0], time.Time{}, nil
}

// takeHeld returns an entry claimed earlier and not handed out yet, and
// gives back those that waited too long for their lease.
func (s *Store) takeHeld(ctx context.Context, lease time.Duration) *outbox.Entry {
	var stale []*outbox.Entry
	defer func() {
		if len(stale) > 0 {
			s.giveBack(ctx, stale)
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.held) > 0 {
		h := s.held[0]
		s.held = s.held[1:]
		if h.lease == lease && time.Since(h.at) < lease/10 {
			return h.e
		}
		stale = append(stale, h.e)
	}
	return nil
}

// giveBack ends the leases of entries claimed and never handed out.
func (s *Store) giveBack(ctx context.Context, es []*outbox.Entry) {
	tokens := make([]string, len(es))
	for i, e := range es {
		tokens[i] = e.Lease
		s.forget(e.Lease)
	}
	if _, err := s.db.Exec(ctx, `WITH r AS (
			UPDATE smtpkit_outbox_entries SET lease_token = NULL, lease_holder = NULL, lease_until = NULL
			WHERE lease_token = ANY($1)
			RETURNING 1)
		SELECT pg_notify($2, '') FROM r LIMIT 1`, tokens, s.channel); err != nil {
		s.logger().Error("outbox/postgres: giving back entries claimed and not handed out failed; "+
			"they come back when this Store closes or their lease ends", "entries", len(es), "err", err)
	}
}

// giveBackClaim ends the leases of a claim that failed half way, whose
// tokens begin with prefix (hex digits: nothing LIKE reads specially).
func (s *Store) giveBackClaim(ctx context.Context, prefix string) {
	if _, err := s.db.Exec(ctx, `UPDATE smtpkit_outbox_entries SET lease_token = NULL, lease_holder = NULL, lease_until = NULL
		WHERE lease_token LIKE $1`, prefix+".%"); err != nil {
		s.logger().Error("outbox/postgres: giving back the entries of a failed claim failed; "+
			"they come back when this Store closes or their lease ends", "err", err)
	}
}

// releaseHeld gives back every entry claimed and not handed out.
func (s *Store) releaseHeld(ctx context.Context) {
	s.mu.Lock()
	var es []*outbox.Entry
	for _, h := range s.held {
		es = append(es, h.e)
	}
	s.held = nil
	s.mu.Unlock()
	if len(es) > 0 {
		s.giveBack(ctx, es)
	}
}

// next returns when Claim should look again.
func (s *Store) next(ctx context.Context) (time.Time, error) {
	var due *time.Time
	var leased bool
	if err := s.db.QueryRow(ctx, nextSQL).Scan(&due, &leased); err != nil {
		return time.Time{}, fmt.Errorf("outbox/postgres: looking for the next entry due: %w", err)
	}
	var next time.Time
	if due != nil {
		next = *due
	}
	if leased {
		if soon := time.Now().Add(rescueEvery); next.IsZero() || soon.Before(next) {
			next = soon
		}
	}
	return next, nil
}

// forget drops a lease token s no longer holds.
func (s *Store) forget(token string) {
	s.mu.Lock()
	delete(s.bodies, s.leases[token])
	delete(s.leases, token)
	s.mu.Unlock()
}

// leaseLost is the error of a call under a lease that is not held.
func leaseLost(e *outbox.Entry) error {
	return fmt.Errorf("outbox/postgres: entry %s: %w", e.ID, outbox.ErrLeaseLost)
}

// Update records e's state (recipients, attempts, next attempt, last
// error, doubts) under its lease, which goes on; the envelope and message
// stay as enqueued.
func (s *Store) Update(ctx context.Context, e *outbox.Entry) error {
	rcpts, err := encodeRecipients(e.Recipients)
	if err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, `UPDATE smtpkit_outbox_entries
		SET recipients = $3, attempts = $4, next_attempt = $5, last_error = $6, doubts = $7
		WHERE id = $1 AND lease_token = $2`,
		e.ID, e.Lease, rcpts, e.Attempts, e.NextAttempt, e.LastError, e.Doubts)
	if err != nil {
		return fmt.Errorf("outbox/postgres: recording the state of entry %s: %w", e.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return leaseLost(e)
	}
	return nil
}

// Release ends e's lease; e stays queued until its NextAttempt, and the
// Runners of every process are woken when that is now.
func (s *Store) Release(ctx context.Context, e *outbox.Entry) error {
	defer s.forget(e.Lease)
	var due bool
	err := s.db.QueryRow(ctx, `UPDATE smtpkit_outbox_entries
		SET lease_token = NULL, lease_holder = NULL, lease_until = NULL
		WHERE id = $1 AND lease_token = $2
		RETURNING next_attempt <= clock_timestamp()`, e.ID, e.Lease).Scan(&due)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return leaseLost(e)
	case err != nil:
		return fmt.Errorf("outbox/postgres: releasing entry %s: %w", e.ID, err)
	case due:
		if err := s.notify(ctx, s.db, payloadEntries); err != nil {
			return fmt.Errorf("outbox/postgres: releasing entry %s: waking the runners: %w", e.ID, err)
		}
	}
	return nil
}

// Finish removes e and its message under its lease. The Store forgets
// the lease whether or not that worked: when the database failed, the
// entry comes back once the lease's time has passed.
func (s *Store) Finish(ctx context.Context, e *outbox.Entry) error {
	defer s.forget(e.Lease)
	tag, err := s.db.Exec(ctx, `DELETE FROM smtpkit_outbox_entries WHERE id = $1 AND lease_token = $2`, e.ID, e.Lease)
	if err != nil {
		return fmt.Errorf("outbox/postgres: removing entry %s: %w", e.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return leaseLost(e)
	}
	return nil
}

// rescueSQL frees the leases and connection slots whose holder's session
// is gone (its advisory lock is not in pg_locks), and the leases that
// outlived their time. It returns how many leases it freed.
const rescueSQL = `WITH live AS MATERIALIZED (
	SELECT objid::bigint AS pid FROM pg_locks
	WHERE locktype = 'advisory' AND classid::bigint = $1 AND objsubid = 2 AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
), slots AS (
	UPDATE smtpkit_outbox_slots SET holder = NULL, token = NULL, since = NULL
	WHERE holder IS NOT NULL AND holder NOT IN (SELECT pid FROM live)
	RETURNING 1
), entries AS (
	UPDATE smtpkit_outbox_entries SET lease_token = NULL, lease_holder = NULL, lease_until = NULL
	WHERE lease_token IS NOT NULL AND (lease_until < clock_timestamp() OR lease_holder NOT IN (SELECT pid FROM live))
	RETURNING 1
)
SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM slots)`

// cleanKeysEvery is how often a Store removes the keys of EnqueueOnce
// older than KeepKeys.
const cleanKeysEvery = time.Minute

// rescueNow runs rescue when it has not run for rescueEvery, and removes
// the old keys of EnqueueOnce now and then.
func (s *Store) rescueNow(ctx context.Context) error {
	s.mu.Lock()
	if time.Since(s.rescued) < rescueEvery {
		s.mu.Unlock()
		return nil
	}
	s.rescued = time.Now()
	clean := time.Since(s.keysCleaned) >= cleanKeysEvery
	if clean {
		s.keysCleaned = s.rescued
	}
	s.mu.Unlock()
	if clean {
		if _, err := s.db.Exec(ctx, `DELETE FROM smtpkit_outbox_keys WHERE created < clock_timestamp() - $1 * interval '1 microsecond'`,
			s.keepKeys().Microseconds()); err != nil {
			s.logger().Error("outbox/postgres: removing old keys failed", "err", err)
		}
	}
	return s.rescue(ctx)
}

// rescue frees what dead holders held, and wakes whom it concerns.
func (s *Store) rescue(ctx context.Context) error {
	var entries, slots int64
	if err := s.db.QueryRow(ctx, rescueSQL, lockSpace).Scan(&entries, &slots); err != nil {
		return fmt.Errorf("outbox/postgres: freeing the leases of runners that died: %w", err)
	}
	if entries > 0 {
		s.logger().Warn("outbox/postgres: freed the leases of runners that died or ran out of time", "entries", entries)
		if err := s.notify(ctx, s.db, payloadEntries); err != nil {
			return err
		}
	}
	if slots > 0 {
		s.logger().Warn("outbox/postgres: freed the connection slots of processes that died", "slots", slots)
		if err := s.notify(ctx, s.db, payloadSlots); err != nil {
			return err
		}
	}
	return nil
}

// adopt moves the leases and connection slots held through s to the
// holder ID of its current session (holder, or the current one when 0).
func (s *Store) adopt(ctx context.Context, holder int32) error {
	if holder == 0 {
		var err error
		if holder, _, err = s.sess.current(ctx); err != nil {
			return err
		}
	}
	s.mu.Lock()
	leases := make([]string, 0, len(s.leases))
	for t := range s.leases {
		leases = append(leases, t)
	}
	slots := make([]string, 0, len(s.slots))
	for t := range s.slots {
		slots = append(slots, t)
	}
	s.mu.Unlock()
	if len(leases) > 0 {
		if _, err := s.db.Exec(ctx, `UPDATE smtpkit_outbox_entries SET lease_holder = $1 WHERE lease_token = ANY($2)`,
			holder, leases); err != nil {
			return err
		}
	}
	if len(slots) > 0 {
		if _, err := s.db.Exec(ctx, `UPDATE smtpkit_outbox_slots SET holder = $1 WHERE token = ANY($2)`,
			holder, slots); err != nil {
			return err
		}
	}
	return nil
}
