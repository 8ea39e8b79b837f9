// Package postgres keeps smtpkit's outbox in a PostgreSQL database, so
// that a service enqueues mail in the transaction of its own writes (the
// transactional outbox: the mail exists only if the transaction commits)
// and workers in any number of processes, on any number of hosts, share
// the delivery without sending anything twice.
//
// A Store is an outbox.Store, as the spool directory is: a service moves
// from one to the other by changing the line that opens it, and the same
// outbox.Runner delivers from either, with the same retries, per-recipient
// results, failure reports and bounces.
//
//	store, err := postgres.New(ctx, db, nil) // db: a *pgxpool.Pool
//	...
//	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
//		// ... the application's own writes ...
//		_, err := store.EnqueueTx(ctx, tx, &smtpkit.Envelope{From: from, To: to}, msg)
//		return err
//	})
//
//	// In each worker process:
//	r := &outbox.Runner{Store: store, Pool: pool}
//	go r.Run(ctx)
//
// It is a module of its own (github.com/smtpkit/smtpkit/outbox/postgres),
// so that smtpkit itself does not depend on a database driver; it uses
// github.com/jackc/pgx/v5.
//
// # Tables and migrations
//
// The tables, all named smtpkit_outbox_*, live in the first schema of the
// connections' search_path: "public" unless the connection URL says
// otherwise (search_path=mail keeps them in a schema of their own). They
// are made, and brought to the version of this module, by Migrate or by
// the command in this module:
//
//	go run github.com/smtpkit/smtpkit/outbox/postgres/cmd/smtpkit-outbox migrate 'postgres://user:pass@host/db'
//
// New refuses tables of another version, and says which command to run.
//
// # The command line
//
// The command smtpkit-outbox, in this module, does for a Store what
// "smtpkit queue" does for a spool directory: its commands migrate,
// enqueue (the envelope from --from and --to, or from the header with -t),
// list, show, retry, delete, and run (send through an outbox.Runner to
// --server, once, or with --watch until interrupted), on the database of
// --url or $SMTPKIT_OUTBOX_URL, each with --json.
//
// # Messages
//
// A message is stored in rows of ChunkSize (256 KiB) bytes. One that fits
// in a row goes in with its entry in one statement; a longer one is
// streamed into its rows with COPY, read one chunk at a time, and read
// back a chunk at a time when it is sent, so a message of any size costs
// a chunk of memory, never the whole. There is no limit but the database's
// disk (and 2^31 chunks).
//
// # Workers and leases
//
// Claim takes due entries with FOR UPDATE SKIP LOCKED, so any number of
// workers claim side by side without waiting on each other, up to 8 in one
// statement (the Runner fills its batches one Claim at a time; the Store
// hands out the rest at its next calls). Every call under a lease (Update,
// Release, Finish) checks the lease's token, and fails with
// outbox.ErrLeaseLost when another holds the entry.
//
// A lease ends at once when its holder dies, however it dies, as the
// spool's flock does. Each Store keeps a connection of its own to the
// database, apart from the pool, holding a session-level advisory lock
// keyed by that session's backend PID, which is the holder ID of the
// Store's leases. When the process dies, its connection closes, the
// server drops the lock, and the next Claim of any other worker (which
// looks at pg_locks every second) frees the leases, and wakes the Runners.
// A kill -9 loses nothing and delays nothing by more than about a second.
// A lease also ends when its time has passed (Runner.Lease, which the
// Runner cuts its attempts short of), for a holder cut off from the
// database while its host lives, and for a host that vanished without
// closing its connections (a power cut), which PostgreSQL notices only
// through TCP keepalives (tcp_keepalives_idle).
//
// That connection is why the Store's own session must reach PostgreSQL
// directly or through a pooler in session mode: behind a pooler in
// transaction mode, a session-level lock does not say who lives. When the
// connection breaks, the Store reconnects and moves its leases to the new
// session; another worker that looked in between may have taken an entry
// over and sent it while this one was still sending it (each such copy
// follows a log line of the Store's).
//
// # Guarantees
//
// As with the spool: every message enqueued is delivered at least once to
// each recipient, or reported failed, and a second copy can arrive only
// from the RFC 1047 window (the server took the message, and the reply was
// lost with the connection), or when a worker died, or lost its session,
// after the server took a message and before the outcome was recorded.
// The Runner counts the attempts in doubt (outbox.Stats.InDoubt).
//
// EnqueueOnce adds what job queues call unique jobs: a message queued
// under a key is queued once for as long as the key is kept (a day by
// default), whichever transaction commits first, for mail that an event
// calls for when the event may be handled twice.
//
// # Waking up
//
// Enqueueing, a Release of an entry due now, a Retry and a rescue send a
// NOTIFY (at the commit of the enqueueing transaction); the Store's own
// session LISTENs, and Wake passes it on to the Runner, so a worker starts
// on a new entry at once, whichever process enqueued it.
//
// # Limits per destination
//
// A Limit in Options bounds the deliveries to one server across every
// process whose Store names the same Limit.Destination: messages per
// second, with a token bucket in a row of the database that each entry
// Claim hands out draws from, and connections open at once, with slots in
// rows of the database that the ContextDialer of Store.Dialer takes before
// it dials and gives back when the connection closes (or when its process
// dies, as leases do). A connection made through it closes itself after a
// second idle, so that a Pool's idle connections do not keep the slots
// from the other processes.
//
// The tokens are taken as entries are claimed, not as messages are read:
// the Runner claims a batch and pipelines it, so a batch goes out at once,
// and a Claim without a token ends the batch, keeping the batches as small
// as the limit makes them. For the same reason Runner.Flush returns when
// the tokens run out, as when nothing is due; Runner.Run goes on at the
// limit's pace.
//
// # River
//
// River (riverqueue/river, v0.51.2, with its pgx v5 driver) was tried as
// the queue under this Store, and not used, because it does not fit the
// outbox's Store:
//
//   - River pushes: a client fetches jobs and calls a Worker's Work with
//     one job at a time. The outbox's Runner pulls: it claims entries to
//     fill a batch that goes out pipelined on one SMTP connection, and
//     records each outcome. River has no public call that fetches and
//     locks jobs for a caller, so a Store on it would need a dispatcher of
//     its own between River's workers and Claim, and the batches would be
//     lost.
//   - Rescue. River frees a running job once RescueStuckJobsAfter has
//     passed (an hour by default) and has no fencing token, so a worker
//     that is slow rather than dead can run alongside the retry. Here a
//     lease ends with its holder's session, at once, and every write under
//     a lease checks its token.
//   - Limits across workers per destination (messages per second and
//     connections) are not in River's open-source edition.
//   - The message: River's job arguments are JSON in a row, decoded whole;
//     the bodies would need rows of their own anyway, as here.
//   - What is left: the per-recipient state, the SMTP verdicts, the
//     retries with backoff and the RFC 1047 accounting are the Runner's
//     either way; River's retry policy would be a second one.
//
// What River would have brought is here, on pgx: the insert in the
// caller's transaction (EnqueueTx), FOR UPDATE SKIP LOCKED, retries with
// backoff (the Runner's), rescue of the jobs of a worker that died,
// LISTEN/NOTIFY wake-ups, and unique jobs (EnqueueOnce).
package postgres
