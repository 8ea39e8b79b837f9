package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smtpkit/smtpkit/outbox"
)

// The interfaces a Store implements.
var (
	_ outbox.Store = (*Store)(nil)
	_ outbox.Waker = (*Store)(nil)
)

// ChunkSize is the size of the rows a message is stored in: a message
// takes one row per ChunkSize bytes, and a reader of it holds one row in
// memory at a time.
const ChunkSize = 256 << 10

// rescueEvery is how often a Store looks for leases whose holder died.
const rescueEvery = time.Second

// Store is an outbox.Store in a PostgreSQL database, shared by any number
// of processes on any number of hosts. Its tables live in the first schema
// of the connections' search_path (see Migrate). A Store is safe for
// concurrent use; Close releases what it holds.
type Store struct {
	db      *pgxpool.Pool
	own     bool // Open made db, and Close closes it
	opts    Options
	channel string // of NOTIFY, one per schema
	sess    *session

	mu          sync.Mutex
	leases      map[string]string     // the entry ID of each lease held through s, by token
	slots       map[string]int32      // the connection slot held through s, by token (-1 while being taken)
	held        []held                // entries claimed and not handed out yet, oldest first
	bodies      map[string]prefetched // the messages Claim read with their entries, by entry ID, for Open
	rescued     time.Time             // when s last looked for leases whose holder died
	keysCleaned time.Time             // when s last removed the old keys of EnqueueOnce
	slotsMade   bool                  // the connection slots of the Limit exist
	closed      bool
}

// Options configures a Store. The zero value sets no limit.
type Options struct {
	// Limit bounds the deliveries to one server, across every process
	// whose Store names the same Limit.Destination; the zero Limit bounds
	// nothing.
	Limit Limit
	// KeepKeys is how long a key of EnqueueOnce refuses a second message;
	// zero means DefaultKeepKeys. Every Store on the same tables should
	// keep them as long: the oldest are removed by any of them.
	KeepKeys time.Duration
	// Logger, when not nil, receives the losses and recoveries of the
	// Store's own connection (see the package documentation).
	Logger *slog.Logger
}

// Open connects to the database at url (a PostgreSQL URL or key=value
// string, as pgxpool.ParseConfig reads it) and returns a Store on it with
// zero Options; Close closes the connections. The tables must exist: see
// Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("outbox/postgres: the connection URL: %w", err)
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("outbox/postgres: connecting: %w", err)
	}
	s, err := New(ctx, db, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// New returns a Store on the tables that Migrate made in db, configured by
// opts (nil means zero Options). It checks that the tables are there, at
// the version this package expects. Close does not close db.
func New(ctx context.Context, db *pgxpool.Pool, opts *Options) (*Store, error) {
	s := &Store{db: db, leases: map[string]string{}, slots: map[string]int32{}, bodies: map[string]prefetched{}}
	if opts != nil {
		s.opts = *opts
	}
	if err := s.opts.Limit.check(); err != nil {
		return nil, err
	}
	var schema string
	var version int
	err := db.QueryRow(ctx, `SELECT current_schema(), coalesce(max(version), 0) FROM smtpkit_outbox_migrations`).
		Scan(&schema, &version)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table
		return nil, fmt.Errorf("outbox/postgres: the outbox's tables are missing from the schema of this connection "+
			"(its search_path); create them with postgres.Migrate or the smtpkit-outbox migrate command: %w", err)
	case err != nil:
		return nil, fmt.Errorf("outbox/postgres: reading the schema version: %w", err)
	case version < len(migrations):
		return nil, fmt.Errorf("outbox/postgres: the outbox's tables in schema %q are at version %d, this package needs %d; "+
			"run postgres.Migrate or the smtpkit-outbox migrate command", schema, version, len(migrations))
	case version > len(migrations):
		return nil, fmt.Errorf("outbox/postgres: the outbox's tables in schema %q are at version %d, newer than this package knows (%d); "+
			"update github.com/smtpkit/smtpkit/outbox/postgres", schema, version, len(migrations))
	}
	s.channel = channelName(schema)
	s.sess = newSession(s)
	return s, nil
}

// channelName is the NOTIFY channel of the outbox in schema: readable when
// it fits in an identifier, hashed otherwise.
func channelName(schema string) string {
	name := "smtpkit_outbox." + schema
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(schema))
	return "smtpkit_outbox." + hex.EncodeToString(sum[:16])
}

// DB returns the connections the Store uses.
func (s *Store) DB() *pgxpool.Pool { return s.db }

// Close ends the Store's own connection, which gives up the leases and
// connection slots still held through it (other processes take them over
// at once), and closes the connections when Open made them. The Store must
// not be used after.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s.releaseHeld(ctx)
	cancel()
	s.sess.close()
	if s.own {
		s.db.Close()
	}
	return nil
}

func (s *Store) logger() *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Wake returns a channel that is closed when an entry is enqueued,
// released due, or retried, through any Store on the same tables; the
// Runner waits on it between claims.
func (s *Store) Wake() <-chan struct{} { return s.sess.wakeChan(wakeEntries) }

// notify wakes the Runners of every process on these tables, at the
// commit of the transaction q belongs to.
func (s *Store) notify(ctx context.Context, q querier, what string) error {
	_, err := q.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, what)
	return err
}

// querier is what a pool, a connection and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// newID returns the ID of a new entry, as the spool makes them: 16 hex
// digits of the time in nanoseconds, so IDs sort by age, and 8 random ones.
func newID(now time.Time) string {
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("%016x%s", uint64(now.UnixNano()), hex.EncodeToString(r[:]))
}

// newToken returns a lease token.
func newToken() string {
	var r [16]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}
