package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations are the schema's versions, in order: migration i makes
// version i+1.
var migrations = func() []string {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			panic(err)
		}
		out[i] = string(b)
	}
	return out
}()

// lockSpace is the first key of the advisory locks this package takes,
// which sets them apart from other programs' ("smtp").
const lockSpace = 0x736d7470

// Migrate creates the outbox's tables, or brings them to the version this
// package needs, in the first schema of the connections' search_path
// (usually "public"; put search_path=name in the connection URL for a
// schema of the outbox's own). Each version is applied in a transaction of
// its own, under a lock, so concurrent calls are safe and a failure leaves
// the previous version. It returns the version the tables are at (on an
// error, the last one it reached, or 0).
//
// The command smtpkit-outbox of this module calls it:
//
//	go run github.com/smtpkit/smtpkit/outbox/postgres/cmd/smtpkit-outbox migrate 'postgres://user:pass@host/db'
func Migrate(ctx context.Context, db *pgxpool.Pool) (version int, err error) {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS smtpkit_outbox_migrations (
		version integer PRIMARY KEY,
		applied timestamptz NOT NULL DEFAULT clock_timestamp())`); err != nil {
		return 0, fmt.Errorf("outbox/postgres: creating the table of migrations: %w", err)
	}
	for {
		done, v, err := migrateOne(ctx, db)
		if err != nil {
			return version, err
		}
		if version = v; done {
			return version, nil
		}
	}
}

// migrateOne applies the next migration, if any, and returns the version
// the tables are at.
func migrateOne(ctx context.Context, db *pgxpool.Pool) (done bool, version int, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockSpace); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM smtpkit_outbox_migrations`).Scan(&version); err != nil {
			return err
		}
		if version >= len(migrations) {
			done = true
			return nil
		}
		next := version + 1
		if _, err := tx.Exec(ctx, migrations[version]); err != nil {
			return fmt.Errorf("version %d: %w", next, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO smtpkit_outbox_migrations (version) VALUES ($1)`, next); err != nil {
			return err
		}
		version = next
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("outbox/postgres: migrating: %w", err)
	}
	return done, version, nil
}
