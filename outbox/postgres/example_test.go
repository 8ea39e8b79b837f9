package postgres_test

// The examples need a PostgreSQL server, so they are compiled, not run;
// the tests run the same calls against one.

import (
	"context"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/outbox/postgres"
)

// An application queues a sign-up mail in the transaction that creates the
// user: both happen, or neither. Runners in any number of processes
// deliver it.
func Example() {
	ctx := context.Background()
	db, err := pgxpool.New(ctx, "postgres://app:secret@db.example/app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	// Once, at deployment (or: smtpkit-outbox migrate URL).
	if _, err := postgres.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	store, err := postgres.New(ctx, db, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (email) VALUES ($1)`, "ann@example.org"); err != nil {
			return err
		}
		_, err := store.EnqueueTx(ctx, tx, &smtpkit.Envelope{From: "hello@example.com", To: []string{"ann@example.org"}},
			strings.NewReader("Subject: Welcome\r\n\r\nHello Ann.\r\n"))
		return err
	})
	if err != nil {
		log.Fatal(err) // no user, and no mail
	}

	// In each worker process: the Runner of the spool, on this Store.
	pool := &smtpkit.Pool{Addr: "smtp.example.com:587", Dialer: &smtpkit.Dialer{}}
	r := &outbox.Runner{Store: store, Pool: pool, Logger: slog.Default()}
	go r.Run(ctx)
}

// Mail that an event calls for, when the event may be handled twice.
func ExampleStore_EnqueueOnce() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, "postgres://app:secret@db.example/app")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	err = pgx.BeginFunc(ctx, store.DB(), func(tx pgx.Tx) error {
		id, queued, err := store.EnqueueOnce(ctx, tx, "order-shipped:1234",
			&smtpkit.Envelope{From: "shop@example.com", To: []string{"ann@example.org"}},
			strings.NewReader("Subject: Your order has shipped\r\n\r\n...\r\n"))
		if err == nil && !queued {
			log.Printf("already queued as %s", id)
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}

// Workers in several processes share a limit on one server: 20 messages a
// second and 4 connections between them.
func ExampleStore_Dialer() {
	ctx := context.Background()
	const addr = "smtp.example.com:587"
	db, err := pgxpool.New(ctx, "postgres://app:secret@db.example/app")
	if err != nil {
		log.Fatal(err)
	}
	store, err := postgres.New(ctx, db, &postgres.Options{
		Limit: postgres.Limit{Destination: addr, PerSecond: 20, Burst: 5, MaxConns: 4},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	pool := &smtpkit.Pool{Addr: addr, MaxConns: 2,
		Dialer: &smtpkit.Dialer{Options: smtpkit.Options{Dialer: store.Dialer(nil), ConnectTimeout: time.Minute}}}
	r := &outbox.Runner{Store: store, Pool: pool}
	go r.Run(ctx)
}
