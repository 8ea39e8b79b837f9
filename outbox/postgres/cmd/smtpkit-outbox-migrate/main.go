// Command smtpkit-outbox-migrate creates the tables of smtpkit's outbox in
// a PostgreSQL database, or brings them to the version of its module; it
// runs postgres.Migrate. Running it again does nothing.
//
// Usage:
//
//	smtpkit-outbox-migrate [URL]
//
// URL is a PostgreSQL connection URL such as
// "postgres://user:pass@host:5432/db?search_path=mail" (the tables go into
// the first schema of the search_path, "public" by default). Without it the
// command reads DATABASE_URL, and without that the PG* variables (PGHOST,
// PGUSER, PGDATABASE...), as psql does.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smtpkit/smtpkit/outbox/postgres"
)

func main() {
	if len(os.Args) > 2 || len(os.Args) == 2 && (os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "-help") {
		fmt.Fprintln(os.Stderr, "usage: smtpkit-outbox-migrate [postgres://user:pass@host/db]   (default: $DATABASE_URL, else the PG* variables)")
		os.Exit(2)
	}
	url := os.Getenv("DATABASE_URL")
	if len(os.Args) == 2 {
		url = os.Args[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := run(ctx, url); err != nil {
		fmt.Fprintln(os.Stderr, "smtpkit-outbox-migrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("the connection URL: %w", err)
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	version, err := postgres.Migrate(ctx, db)
	if err != nil {
		return err
	}
	var schema string
	if err := db.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	fmt.Printf("the outbox's tables in schema %q of database %q are at version %d\n", schema, cfg.ConnConfig.Database, version)
	return nil
}
