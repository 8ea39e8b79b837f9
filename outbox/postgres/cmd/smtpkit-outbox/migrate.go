package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smtpkit/smtpkit/outbox/postgres"
)

// migrateTimeout bounds a migration.
const migrateTimeout = 5 * time.Minute

type migrateJSON struct {
	Command  string `json:"command"`
	Schema   string `json:"schema,omitempty"`
	Database string `json:"database,omitempty"`
	Version  int    `json:"version"`
	outcomeJSON
}

func runMigrate(ctx context.Context, e *env, args []string) (err error) {
	var c common
	fs := c.flags(e, "migrate", "[URL]", `Create the outbox's tables in the first schema of the connection's search_path
("public" unless the URL says search_path=NAME), or bring them to the version of
this command; it runs postgres.Migrate. Running it again does nothing. The URL
may also be given as the argument.

With --json: {"command": "migrate", "schema": "...", "database": "...", "version": 1, "ok": true, "exit_code": 0}`)
	pos, err := parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		if c.url != "" {
			return usageError{fmt.Errorf("give the URL once: as --url or as the argument")}
		}
		c.url = pos[0]
	}
	result := &migrateJSON{Command: "migrate"}
	if c.json {
		defer printJSON(e.stdout, result, &err)
	}
	url, err := c.databaseURL(e)
	if err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return configError{fmt.Errorf("the connection URL: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return databaseError(err)
	}
	defer db.Close()
	result.Database = cfg.ConnConfig.Database
	result.Version, err = postgres.Migrate(ctx, db)
	if err != nil {
		return databaseError(err)
	}
	if err := db.QueryRow(ctx, `SELECT current_schema()`).Scan(&result.Schema); err != nil {
		return databaseError(err)
	}
	if !c.json {
		fmt.Fprintf(e.stdout, "the outbox's tables in schema %q of database %q are at version %d\n",
			result.Schema, result.Database, result.Version)
	}
	return nil
}
