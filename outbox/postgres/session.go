package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// What a notification wakes.
type wakeKind int

const (
	wakeEntries wakeKind = iota // Runners waiting for due entries
	wakeSlots                   // dials waiting for a connection slot
)

// The payloads of the Store's notifications.
const (
	payloadEntries = ""
	payloadSlots   = "slot"
)

// Timings of the Store's own connection.
const (
	sessionCheck      = 30 * time.Second       // how often an idle session is checked with a ping
	sessionRetryFirst = 100 * time.Millisecond // the first wait before reconnecting; doubled up to sessionRetryMax
	sessionRetryMax   = 5 * time.Second
	sessionWait       = 5 * time.Second // how long a claim or a dial waits for a session coming back
)

// session is the Store's own connection to the database, apart from the
// pool. It holds a session-level advisory lock keyed by its backend PID,
// which is the holder ID of the leases and connection slots taken through
// the Store: the lock lives exactly as long as the session, so another
// process tells a dead holder from a live one by looking at pg_locks (see
// Store.rescue). It also LISTENs for the Store's notifications.
//
// It starts with the first call that needs it (a claim, a connection
// slot, Wake), so a Store that only enqueues and lists holds no extra
// connection.
type session struct {
	s      *Store
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	done    chan struct{} // closed when run returns
	ready   chan struct{} // closed once the first connection succeeded or failed
	changed chan struct{} // closed and replaced when the session goes up or down
	holder  int32         // the live session's backend PID; 0 while down
	gen     int           // counts the sessions, so a caller can tell that the holder changed
	err     error         // why the session is down
	wake    [2]chan struct{}
}

func newSession(s *Store) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{s: s, ctx: ctx, cancel: cancel, ready: make(chan struct{}), changed: make(chan struct{}),
		wake: [2]chan struct{}{make(chan struct{}), make(chan struct{})}}
}

// start starts the session once.
func (ss *session) start() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.started || ss.ctx.Err() != nil {
		return
	}
	ss.started = true
	ss.done = make(chan struct{})
	go ss.run()
}

// current returns the holder ID of the live session and its generation,
// starting the session if needed and waiting for its first connection;
// while the session is down it waits up to sessionWait for it to come back.
func (ss *session) current(ctx context.Context) (int32, int, error) {
	ss.start()
	select {
	case <-ss.ready:
	case <-ctx.Done():
		return 0, 0, context.Cause(ctx)
	}
	patience := time.NewTimer(sessionWait)
	defer patience.Stop()
	for {
		ss.mu.Lock()
		holder, gen, why, changed := ss.holder, ss.gen, ss.err, ss.changed
		closed := ss.ctx.Err() != nil
		ss.mu.Unlock()
		switch {
		case holder != 0:
			return holder, gen, nil
		case closed:
			return 0, 0, errors.New("outbox/postgres: the store is closed")
		}
		select {
		case <-changed:
		case <-patience.C:
			return 0, 0, fmt.Errorf("outbox/postgres: the store's own connection to the database is down, "+
				"so it takes no lease (another process could not tell whether this one lives): %w", why)
		case <-ctx.Done():
			return 0, 0, context.Cause(ctx)
		}
	}
}

// generation returns the generation of the live session.
func (ss *session) generation() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.gen
}

// wakeChan returns the channel closed at the next notification of kind k.
func (ss *session) wakeChan(k wakeKind) <-chan struct{} {
	ss.start()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.wake[k]
}

// broadcast wakes the waiters of kind k.
func (ss *session) broadcast(k wakeKind) {
	ss.mu.Lock()
	close(ss.wake[k])
	ss.wake[k] = make(chan struct{})
	ss.mu.Unlock()
}

// close ends the session and waits for it.
func (ss *session) close() {
	ss.mu.Lock()
	ss.cancel()
	done := ss.done
	ss.mu.Unlock()
	if done != nil {
		<-done
	} else {
		ss.setDown(errors.New("the store is closed"))
	}
}

// run keeps a session up until the Store closes, reconnecting after a
// failure.
func (ss *session) run() {
	defer close(ss.done)
	defer ss.setDown(errors.New("the store is closed"))
	wait := sessionRetryFirst
	for ss.ctx.Err() == nil {
		conn, holder, err := ss.connect()
		if err != nil {
			if ss.ctx.Err() != nil {
				return
			}
			ss.setDown(err)
			ss.s.logger().Error("outbox/postgres: connecting the store's own session failed; retrying", "err", err, "retry_in", wait)
			t := time.NewTimer(wait)
			select {
			case <-ss.ctx.Done():
			case <-t.C:
			}
			t.Stop()
			wait = min(2*wait, sessionRetryMax)
			continue
		}
		wait = sessionRetryFirst
		if ss.generation() > 0 {
			// The leases and slots taken under the last session's PID look
			// dead to the others: they are this process's still. They move
			// before anything is taken under the new PID.
			if err := ss.s.adopt(ss.ctx, holder); err != nil {
				ss.s.logger().Error("outbox/postgres: moving the leases to the new session failed", "err", err)
			} else {
				ss.s.logger().Info("outbox/postgres: the store's own session is back", "holder", holder)
			}
		}
		ss.setUp(holder)
		// Whatever was notified while the session was down.
		ss.broadcast(wakeEntries)
		ss.broadcast(wakeSlots)
		err = ss.listen(conn)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if ss.ctx.Err() != nil {
			return
		}
		ss.setDown(err)
		ss.s.logger().Error("outbox/postgres: the store's own session ended; reconnecting", "err", err)
	}
}

// connect opens the session, takes its lock and listens.
func (ss *session) connect() (*pgx.Conn, int32, error) {
	ctx, cancel := context.WithTimeout(ss.ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, ss.s.db.Config().ConnConfig)
	if err != nil {
		return nil, 0, err
	}
	var pid int32
	var locked bool
	err = conn.QueryRow(ctx, `SELECT pg_backend_pid(), pg_try_advisory_lock($1, pg_backend_pid())`, lockSpace).Scan(&pid, &locked)
	if err == nil && !locked {
		err = fmt.Errorf("the advisory lock (%d, %d) is held already", lockSpace, pid)
	}
	if err == nil {
		_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{ss.s.channel}.Sanitize())
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, 0, err
	}
	return conn, pid, nil
}

// listen passes on the notifications until the session fails or the
// Store closes, checking an idle session now and then.
func (ss *session) listen(conn *pgx.Conn) error {
	for {
		ctx, cancel := context.WithTimeout(ss.ctx, sessionCheck)
		n, err := conn.WaitForNotification(ctx)
		cancel()
		switch {
		case err == nil:
			if n.Payload == payloadSlots {
				ss.broadcast(wakeSlots)
			} else {
				ss.broadcast(wakeEntries)
			}
			continue
		case ss.ctx.Err() != nil:
			return ss.ctx.Err()
		case conn.IsClosed() || !errors.Is(err, context.DeadlineExceeded):
			return err
		}
		ctx, cancel = context.WithTimeout(ss.ctx, sessionCheck)
		err = conn.Ping(ctx)
		cancel()
		if err != nil {
			return err
		}
	}
}

func (ss *session) setUp(holder int32) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.holder, ss.err = holder, nil
	ss.gen++
	close(ss.changed)
	ss.changed = make(chan struct{})
	select {
	case <-ss.ready:
	default:
		close(ss.ready)
	}
}

func (ss *session) setDown(err error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.holder, ss.err = 0, err
	close(ss.changed)
	ss.changed = make(chan struct{})
	select {
	case <-ss.ready:
	default:
		close(ss.ready)
	}
}
