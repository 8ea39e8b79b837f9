package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/smtpkit/smtpkit/outbox"
)

// List returns every entry, oldest first, with Leased set for those a
// runner holds.
func (s *Store) List(ctx context.Context) ([]outbox.Entry, error) {
	rows, err := s.db.Query(ctx, `SELECT `+entryColumns+` FROM smtpkit_outbox_entries ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("outbox/postgres: listing the entries: %w", err)
	}
	defer rows.Close()
	var out []outbox.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox/postgres: listing the entries: %w", err)
	}
	return out, nil
}

// Get returns the entry id, with Leased set when a runner holds it, or an
// error matching outbox.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*outbox.Entry, error) {
	e, err := scanEntry(s.db.QueryRow(ctx, `SELECT `+entryColumns+` FROM smtpkit_outbox_entries WHERE id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("outbox/postgres: entry %s: %w", id, outbox.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("outbox/postgres: entry %s: %w", id, err)
	}
	return e, nil
}

// Retry makes the entry id due now and wakes the Runners, unless a runner
// holds it (outbox.ErrBusy).
func (s *Store) Retry(ctx context.Context, id string) error {
	return s.unheld(ctx, id, "rescheduling", `WITH r AS (
			UPDATE smtpkit_outbox_entries
			SET next_attempt = clock_timestamp(), lease_token = NULL, lease_holder = NULL, lease_until = NULL
			WHERE id = $1 AND (lease_token IS NULL OR lease_until < clock_timestamp())
			RETURNING 1)
		SELECT count(*) FROM r, LATERAL (SELECT pg_notify($2, '')) n`, id, s.channel)
}

// Delete removes the entry id and its message without delivering it,
// unless a runner holds it (outbox.ErrBusy).
func (s *Store) Delete(ctx context.Context, id string) error {
	return s.unheld(ctx, id, "deleting", `WITH r AS (
			DELETE FROM smtpkit_outbox_entries
			WHERE id = $1 AND (lease_token IS NULL OR lease_until < clock_timestamp())
			RETURNING 1)
		SELECT count(*) FROM r`, id)
}

// unheld runs query, which acts on the entry id when nobody holds it and
// counts the rows it acted on; when none, it finds out why.
func (s *Store) unheld(ctx context.Context, id, doing, query string, args ...any) error {
	var n int64
	if err := s.db.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return fmt.Errorf("outbox/postgres: %s entry %s: %w", doing, id, err)
	}
	if n > 0 {
		return nil
	}
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM smtpkit_outbox_entries WHERE id = $1)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("outbox/postgres: %s entry %s: %w", doing, id, err)
	}
	if exists {
		return fmt.Errorf("outbox/postgres: entry %s: %w", id, outbox.ErrBusy)
	}
	return fmt.Errorf("outbox/postgres: entry %s: %w", id, outbox.ErrNotFound)
}
