// Package outbox queues mail durably and delivers it through a
// smtpkit.Pool, retrying until the server takes it: nothing is lost when
// the server is away, and the process may die at any moment.
//
//	spool, err := outbox.OpenSpool("/var/spool/myapp")
//	...
//	id, err := spool.Enqueue(ctx, &smtpkit.Envelope{From: from, To: to}, msg)
//	if err != nil {
//		return err // nothing was queued; the error says why (full disk, read-only, ...)
//	}
//	// The message is on disk: from here on a crash loses nothing.
//
//	r := &outbox.Runner{Store: spool, Pool: pool, Report: func(e outbox.Entry) {
//		for _, f := range e.Failed() {
//			log.Printf("%s: not delivered to %s: %s", e.ID, f.Address, f.Reply)
//		}
//	}}
//	go r.Run(ctx) // or r.Flush(ctx) to deliver what is due and return
//
// # Enqueueing
//
// Spool.Enqueue streams the message into a file (a 1 GiB message costs one
// buffer of memory), writes the envelope and the state of each recipient
// beside it, syncs both, renames their directory into the queue and syncs
// the queue directory; only then does it return the entry's ID. When it
// returns an error, nothing was queued: an invalid envelope
// (smtpkit.ErrInvalidArgument), a reader that failed, a context that ended,
// a full disk (errors.Is(err, syscall.ENOSPC)), a read-only or unwritable
// spool (syscall.EROFS, fs.ErrPermission), each worded with what to do.
//
// # Delivering
//
// A Runner claims due entries in batches and sends them with Pool.SendAll,
// pipelined when the server allows, then records each outcome:
//
//   - Delivered: the server accepted the message for the recipient.
//   - Failed for good: a 5xx about the recipient (RCPT) or the whole
//     message (MAIL, the data), a message the server can never take
//     (larger than its SIZE, an extension it lacks). No retry.
//   - Transient: 4xx replies (421 included), failures to connect, greet,
//     secure or log in (a fault of the session, not of the message; so is
//     530 "authentication required" to MAIL), broken connections, time
//     limits. Retried after MinDelay, doubled at each attempt up to
//     MaxDelay, less a random part of up to half (jitter), until MaxAge
//     (5 days by default, as Postfix's maximal_queue_lifetime) has passed
//     since the entry was enqueued; then it fails for good.
//
// Recipients are tracked one by one: an attempt goes only to those still
// pending, so a recipient accepted once is never sent to again, and a
// 5xx for one does not stop the others. When an entry has no pending
// recipient left, Report (a callback) gets its final state, optionally a
// delivery status notification (RFC 3464, Bounce) is enqueued to its
// sender, and the entry is removed.
//
// # Guarantees
//
// Every message enqueued is delivered at least once to each recipient,
// or reported failed. Two runners, in one process or in many, never
// attempt one entry at the same time: Claim hands out a lease, and the
// Spool's lease is an flock(2) on the entry's directory, which the kernel
// drops the moment its holder dies, however it dies (kill -9 included),
// without waiting out a timeout. A state change is written beside the old
// state and renamed over it, so a crash leaves one or the other; an
// outcome is recorded before the entry's lease ends.
//
// A message can arrive twice in one window only: the server took it but
// the runner never learned so. That happens when the connection dies, or a
// time limit passes, after the end of the data and before the reply
// (RFC 1047); in a pipelined batch, for every message whose data went out
// and whose reply was not read yet (a connection reset loses the replies
// still in flight; Runner.BatchSize 1 narrows the window to one message per
// connection). It also happens when the runner's process dies after the
// server's reply and before the spool recorded it. The library tells these
// attempts apart from those that surely sent nothing: it reports
// smtpkit.ErrUnconfirmed when the end of the data left the client and its
// reply never came; a message whose end of data never left (not read to
// its end, or still in the client's buffer when the connection broke)
// cannot be on the server. Attempts in the window are counted (Stats.InDoubt, Entry.Doubts, and an "in_doubt"
// attribute in the log) and retried after the backoff: delivery is at
// least once, not exactly once. Reports and bounces are at least once too:
// a process that dies between them and the removal of the entry sends them
// again.
//
// The runner hands the Pool readers it cannot rewind, so that the Pool
// never sends a message again on its own and every new attempt is the
// runner's, counted and logged; it sends again at once, on a new round,
// only the messages of which not a byte was read.
//
// When the store cannot record an outcome (its disk filled up or turned
// read-only), the runner logs it, counts it in Stats.StoreErrors, keeps
// the outcome in memory and pauses its claims for MinDelay (Flush returns
// the error); when the entry comes back, the outcome kept is applied
// before anything is sent, so no recipient delivered gets the message
// again from this process. A process that dies with outcomes unrecorded
// leaves their entries as they were, and the next attempt sends again.
//
// # The spool, and why not River on SQLite
//
// The embedded Store is a spool directory, as Postfix, nullmailer and dma
// keep one (see Spool). Another Store, such as one on PostgreSQL shared by
// many hosts, implements the same interface: Claim with a lease that
// expires by time (FOR UPDATE SKIP LOCKED, a lease token that Update and
// Finish check), Update, Release, Finish, List, Get, Retry, Delete; the
// Runner does not change.
//
// River (riverqueue/river) with its SQLite driver was weighed as the
// embedded store, so that the PostgreSQL outbox would be the same code
// with another driver. It would have written the retry schedule, the
// leases and the job states for us. It lost on four counts:
//
//   - The message. River's job arguments are JSON in a row, read whole
//     into memory; a 1 GiB message cannot live there, so it would sit in
//     files beside the database anyway, and the two would have to agree
//     after a crash: the spool's one rename is that agreement.
//   - Pure Go. River's SQLite driver runs on database/sql: pure Go means
//     modernc.org/sqlite, megabytes of SQLite transpiled to Go over
//     modernc.org/libc, many times the size of smtpkit; the alternative
//     needs cgo, which the cross-compiled, static command line cannot have.
//   - The lease. River rescues the job of a worker that died once a
//     timeout has passed (RescueStuckJobsAfter, an hour by default), so a
//     worker that is slow rather than dead can see its job run twice; an
//     flock ends with its holder, at once, and needs no clock. SQLite takes
//     one writer at a time (the driver's documentation recommends a pool of
//     one connection), and the driver is documented as in early testing.
//   - What is left to write. The per-recipient state, the SMTP verdicts,
//     the bounces and the RFC 1047 accounting are ours either way; what
//     River would save us here (a claim, a reschedule, a list) is the
//     smaller part of this package.
//
// River stays a fair choice for the PostgreSQL store, where it adds
// transactional enqueueing with the application's own writes; the
// message bodies would then still want a store of their own.
package outbox
