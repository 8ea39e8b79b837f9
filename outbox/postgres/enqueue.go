package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
)

// notQueued begins every error of Enqueue, so nobody mistakes one for a
// message that is safe.
const notQueued = "the message was not queued"

// chunks are the buffers messages are read through, one chunk each.
var chunks = sync.Pool{New: func() any { b := make([]byte, ChunkSize); return &b }}

// Enqueue stores msg and env as a new entry, due at once, in a transaction
// of its own, and returns the entry's ID once it is committed. When it
// returns an error nothing was queued: an invalid envelope
// (smtpkit.ErrInvalidArgument), msg failing, ctx ending, or the database.
// See EnqueueTx for how the message is stored.
func (s *Store) Enqueue(ctx context.Context, env *smtpkit.Envelope, msg io.Reader) (string, error) {
	return s.enqueue(ctx, s.db, env, msg, func(ctx context.Context, q querier, run func(q querier) error) error {
		if q, ok := q.(*pgxpool.Pool); ok {
			return pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error { return run(tx) })
		}
		return run(q)
	})
}

// EnqueueTx stores msg and env as a new entry, due at once, inside the
// caller's transaction tx: the entry exists only if tx commits, and
// Runners on every process are woken at the commit (LISTEN/NOTIFY). It
// returns the entry's ID. When it returns an error nothing was queued, and
// tx is still usable unless the database itself failed.
//
// The message is stored as given (line endings are normalised when it is
// sent), in rows of ChunkSize bytes: one that fits in a row goes in with
// the entry in one statement; a longer one is streamed with COPY, read
// one chunk at a time, so that a message of any size costs one chunk of
// memory. A zero env.Size is sent as the stored size.
func (s *Store) EnqueueTx(ctx context.Context, tx pgx.Tx, env *smtpkit.Envelope, msg io.Reader) (string, error) {
	return s.enqueue(ctx, tx, env, msg, savepoint)
}

// EnqueueOnce is EnqueueTx for a message that must be queued once only,
// such as the mail an event calls for when the event may be handled
// twice: key names it. When a message was queued with the same key in the
// last Options.KeepKeys (a day by default), committed or in a transaction
// that commits first, EnqueueOnce queues nothing and returns that entry's
// ID (which may have been delivered since) and queued false, without
// reading msg; otherwise it is EnqueueTx. The key and the entry are
// stored together, in tx.
func (s *Store) EnqueueOnce(ctx context.Context, tx pgx.Tx, key string, env *smtpkit.Envelope, msg io.Reader) (id string, queued bool, err error) {
	if key == "" {
		return "", false, fmt.Errorf("outbox/postgres: %s: EnqueueOnce needs a key: %w", notQueued, smtpkit.ErrInvalidArgument)
	}
	if err := outbox.CheckEnvelope(env); err != nil {
		return "", false, fmt.Errorf("outbox/postgres: %s: %w", notQueued, err)
	}
	err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		// Taking the key first waits for a transaction that took it and
		// is not over yet: the first to commit wins.
		fresh := newID(time.Now())
		err := sp.QueryRow(ctx, `INSERT INTO smtpkit_outbox_keys AS k (key, entry_id, created)
			VALUES ($1, $2, clock_timestamp())
			ON CONFLICT (key) DO UPDATE SET entry_id = excluded.entry_id, created = excluded.created
			WHERE k.created < clock_timestamp() - $3 * interval '1 microsecond'
			RETURNING entry_id`, key, fresh, s.keepKeys().Microseconds()).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return sp.QueryRow(ctx, `SELECT entry_id FROM smtpkit_outbox_keys WHERE key = $1`, key).Scan(&id)
		}
		if err != nil {
			return err
		}
		queued = true
		_, err = s.enqueueAs(ctx, sp, id, env, msg)
		return err
	})
	if err != nil {
		return "", false, s.enqueueError(ctx, err)
	}
	return id, queued, nil
}

// DefaultKeepKeys is how long a key of EnqueueOnce is kept when
// Options.KeepKeys is zero.
const DefaultKeepKeys = 24 * time.Hour

func (s *Store) keepKeys() time.Duration {
	if s.opts.KeepKeys > 0 {
		return s.opts.KeepKeys
	}
	return DefaultKeepKeys
}

// savepoint runs run in a savepoint of the transaction q, so that a reader
// failing in the middle of a message leaves the caller's transaction as it
// was.
func savepoint(ctx context.Context, q querier, run func(q querier) error) error {
	return pgx.BeginFunc(ctx, q.(pgx.Tx), func(sp pgx.Tx) error { return run(sp) })
}

// enqueue checks env and stores msg through q: a message of one chunk in
// one statement, a longer one streamed inside atomic(q, ...).
func (s *Store) enqueue(ctx context.Context, q querier, env *smtpkit.Envelope, msg io.Reader,
	atomic func(context.Context, querier, func(querier) error) error) (string, error) {
	if err := outbox.CheckEnvelope(env); err != nil {
		return "", fmt.Errorf("outbox/postgres: %s: %w", notQueued, err)
	}
	id := newID(time.Now())
	if _, err := s.enqueueWith(ctx, q, id, env, msg, atomic); err != nil {
		return "", s.enqueueError(ctx, err)
	}
	return id, nil
}

// enqueueAs stores msg and env as the entry id through the transaction q.
func (s *Store) enqueueAs(ctx context.Context, q querier, id string, env *smtpkit.Envelope, msg io.Reader) (int64, error) {
	return s.enqueueWith(ctx, q, id, env, msg, func(ctx context.Context, q querier, run func(querier) error) error {
		return run(q)
	})
}

// enqueueWith stores msg and env as the entry id: one statement when msg
// fits in a chunk, else a COPY of its chunks and the entry, inside
// atomic. It returns the message's size.
func (s *Store) enqueueWith(ctx context.Context, q querier, id string, env *smtpkit.Envelope, msg io.Reader,
	atomic func(context.Context, querier, func(querier) error) error) (int64, error) {
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	first, more, err := readFirst(msg, *bp)
	if err != nil {
		return 0, err
	}
	if !more {
		// One statement: in the pool, its own transaction, a single round trip.
		return int64(len(first)), s.insert(ctx, q, id, env, first, int64(len(first)))
	}
	var size int64
	err = atomic(ctx, q, func(q querier) error {
		size, err = s.insertStream(ctx, q.(pgx.Tx), id, env, first, msg)
		return err
	})
	return size, err
}

// readFirst reads the first chunk of msg into buf; more reports that msg
// goes on after it.
func readFirst(msg io.Reader, buf []byte) (first []byte, more bool, err error) {
	n, err := io.ReadFull(msg, buf)
	switch err {
	case nil:
		return buf[:n], true, nil
	case io.EOF, io.ErrUnexpectedEOF:
		return buf[:n], false, nil
	}
	return nil, false, fmt.Errorf("outbox/postgres: %s: reading it failed: %w", notQueued, err)
}

// enqueueError words a failure of Enqueue.
func (s *Store) enqueueError(ctx context.Context, err error) error {
	var re *readError
	switch {
	case errors.As(err, &re):
		return fmt.Errorf("outbox/postgres: %s: reading it failed: %w", notQueued, re.err)
	case ctx.Err() != nil:
		return fmt.Errorf("outbox/postgres: %s: %w", notQueued, context.Cause(ctx))
	}
	return fmt.Errorf("outbox/postgres: %s: %w", notQueued, err)
}

// insertSQL inserts an entry, with its message when $6 is not NULL (one
// chunk), and wakes the Runners at the commit.
const insertSQL = `WITH now AS (SELECT clock_timestamp() AS t),
e AS (
	INSERT INTO smtpkit_outbox_entries (id, envelope, recipients, size, chunk_size, created, next_attempt)
	SELECT $1, $2, $3, $4, $5, now.t, now.t FROM now
	RETURNING id
), c AS (
	INSERT INTO smtpkit_outbox_chunks (entry_id, seq, data) SELECT e.id, 0, $6 FROM e WHERE $6::bytea IS NOT NULL
)
SELECT pg_notify($7, '') FROM e`

// insert inserts the entry id of size bytes, with its message when data
// is not empty, through q.
func (s *Store) insert(ctx context.Context, q querier, id string, env *smtpkit.Envelope, data []byte, size int64) error {
	envJSON, err := encodeEnvelope(env)
	if err != nil {
		return err
	}
	rcpts := make([]outbox.Recipient, len(env.To))
	for i, to := range env.To {
		rcpts[i] = outbox.Recipient{Address: to, Status: outbox.Pending}
	}
	rcptJSON, err := encodeRecipients(rcpts)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		data = nil // an empty message has no chunk
	}
	_, err = q.Exec(ctx, insertSQL, id, envJSON, rcptJSON, size, ChunkSize, data, s.channel)
	return err
}

// insertStream copies first and the rest of msg into chunks, then inserts
// the entry id, in tx, and returns the message's size. The chunks'
// reference to their entry is checked at the commit, so they may come
// first.
func (s *Store) insertStream(ctx context.Context, tx pgx.Tx, id string, env *smtpkit.Envelope, first []byte, msg io.Reader) (int64, error) {
	src := &chunkSource{ctx: ctx, id: id, r: msg, buf: first[:cap(first)], pending: len(first)}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"smtpkit_outbox_chunks"}, []string{"entry_id", "seq", "data"}, src); err != nil {
		if src.err != nil {
			return 0, src.err // COPY passes on only its text
		}
		return 0, err
	}
	return src.size, s.insert(ctx, tx, id, env, nil, src.size)
}

// readError is a failure of the message's reader during a COPY.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the message: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// chunkSource feeds COPY the chunks of a message, read one at a time into
// one buffer: COPY encodes a row before it asks for the next.
type chunkSource struct {
	ctx     context.Context
	id      string
	r       io.Reader
	buf     []byte
	pending int // bytes of buf read and not handed out yet (the first chunk)
	cur     []byte
	seq     int32
	size    int64
	eof     bool
	err     error
}

func (c *chunkSource) Next() bool {
	if c.err != nil {
		return false
	}
	if c.pending > 0 {
		c.cur, c.pending = c.buf[:c.pending], 0
	} else {
		if c.eof {
			return false
		}
		if err := c.ctx.Err(); err != nil {
			c.err = context.Cause(c.ctx)
			return false
		}
		n, err := io.ReadFull(c.r, c.buf)
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			c.eof = true
		default:
			c.err = &readError{err}
			return false
		}
		if n == 0 {
			return false
		}
		c.cur = c.buf[:n]
		c.seq++
	}
	c.size += int64(len(c.cur))
	return true
}

func (c *chunkSource) Values() ([]any, error) { return []any{c.id, c.seq, c.cur}, nil }

func (c *chunkSource) Err() error { return c.err }
