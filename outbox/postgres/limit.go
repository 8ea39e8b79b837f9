package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smtpkit/smtpkit"
)

// Limit bounds the deliveries to one server across every process whose
// Store names the same Destination on the same tables: the messages
// claimed per second (a token bucket in a row of the database, which each
// entry that Claim hands out draws from) and the connections open at once
// (slots in rows of the database, which Store.Dialer takes). The zero
// Limit bounds nothing.
type Limit struct {
	// Destination names the server the limit is for, such as the Pool's
	// Addr; Stores that name the same one share the limit, and should give
	// it the same numbers.
	Destination string
	// PerSecond bounds the messages claimed per second, on average; zero
	// means no bound. A Runner sends what it claims at once, so this is
	// the rate the server sees, but for the messages whose connection had
	// to wait for a slot of MaxConns.
	PerSecond float64
	// Burst is how many messages may be claimed at once after a quiet
	// spell; zero means 1. A Runner's batches are as large as the tokens
	// at hand allow, and Runner.Flush returns when they run out.
	Burst int
	// MaxConns bounds the connections open to the server at once, across
	// the processes, made through Store.Dialer; zero means no bound.
	MaxConns int
}

func (l *Limit) check() error {
	switch {
	case l.PerSecond < 0 || math.IsNaN(l.PerSecond) || math.IsInf(l.PerSecond, 0):
		return fmt.Errorf("outbox/postgres: Limit.PerSecond %v: want a positive number, or 0 for no bound", l.PerSecond)
	case l.Burst < 0:
		return fmt.Errorf("outbox/postgres: Limit.Burst %d: want a positive number, or 0 for 1", l.Burst)
	case l.MaxConns < 0:
		return fmt.Errorf("outbox/postgres: Limit.MaxConns %d: want a positive number, or 0 for no bound", l.MaxConns)
	}
	return nil
}

// take takes a token of the destination's bucket, or returns how long
// until there is one.
func (s *Store) take(ctx context.Context) (time.Duration, error) {
	l := &s.opts.Limit
	var wait float64
	if err := s.db.QueryRow(ctx, `SELECT smtpkit_outbox_take($1, $2, $3)`, l.Destination, l.PerSecond,
		float64(max(l.Burst, 1))).Scan(&wait); err != nil {
		return 0, fmt.Errorf("outbox/postgres: the rate limit of %q: %w", l.Destination, err)
	}
	if wait <= 0 {
		return 0, nil
	}
	return time.Duration(wait*float64(time.Second)) + time.Millisecond, nil
}

// refund puts back a token that Claim took and did not use.
func (s *Store) refund(ctx context.Context) {
	l := &s.opts.Limit
	if _, err := s.db.Exec(ctx, `UPDATE smtpkit_outbox_rates SET tokens = least($2, tokens + 1) WHERE destination = $1`,
		l.Destination, float64(max(l.Burst, 1))); err != nil {
		s.logger().Error("outbox/postgres: putting back a token of the rate limit failed", "err", err)
	}
}

// slotPoll bounds the wait for a slot between two looks, in case a
// notification is lost.
const slotPoll = 250 * time.Millisecond

// Dialer returns a ContextDialer for smtpkit.Options.Dialer that opens
// each connection through base (nil means a net.Dialer) once it holds one
// of the Limit.MaxConns connection slots of the destination, shared by
// every process on these tables, and gives the slot back when the
// connection is closed, or at once when its process dies. Without
// MaxConns it returns base (or a net.Dialer).
//
// A dial waits for a free slot until its context ends: for a Pool, the
// Options' ConnectTimeout. A process's Pool keeps its idle connections,
// and their slots, until it reuses or retires them, so processes that
// share a bound should each have a Pool.MaxConns of their share or less;
// a dial that waits too long fails as a connection refused, and the
// Runner tries its entries again after its backoff. smtpkit.Options takes
// no LocalAddr or BindLocal beside a Dialer: bind in base instead.
func (s *Store) Dialer(base smtpkit.ContextDialer) smtpkit.ContextDialer {
	if base == nil {
		base = &net.Dialer{}
	}
	if s.opts.Limit.MaxConns <= 0 {
		return base
	}
	return &slotDialer{s: s, base: base}
}

type slotDialer struct {
	s    *Store
	base smtpkit.ContextDialer
}

func (d *slotDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	slot, token, err := d.s.acquireSlot(ctx)
	if err != nil {
		return nil, err
	}
	c, err := d.base.DialContext(ctx, network, addr)
	if err != nil {
		d.s.releaseSlot(slot, token)
		return nil, err
	}
	return newSlotConn(d.s, c, func() { d.s.releaseSlot(slot, token) }), nil
}

// slotIdle is how long a connection made through Store.Dialer may stay
// idle before it is closed and its slot given back: a Pool keeps idle
// connections until it needs one, which could keep the slots from the
// other processes for good.
const slotIdle = time.Second

// slotConn gives its slot back when closed, and closes itself when idle
// (neither reading nor writing) for slotIdle. A Pool finds it closed when
// it looks whether it is alive, before reusing it, and dials anew.
type slotConn struct {
	net.Conn
	s       *Store
	release func()
	once    sync.Once

	mu       sync.Mutex
	busy     int       // reads and writes under way
	last     time.Time // when the last one ended
	closed   bool
	idleTime *time.Timer
}

func newSlotConn(s *Store, c net.Conn, release func()) *slotConn {
	sc := &slotConn{Conn: c, s: s, release: release, last: time.Now()}
	sc.idleTime = time.AfterFunc(slotIdle, sc.idle)
	return sc
}

// idle closes c if it has been idle for slotIdle, or looks again later.
func (c *slotConn) idle() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if wait := slotIdle - time.Since(c.last); c.busy > 0 || wait > 0 {
		c.idleTime.Reset(max(wait, slotIdle/4))
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.Conn.Close()
	c.once.Do(c.release)
}

// use marks an operation under way, unless c was closed for idleness.
func (c *slotConn) use() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.busy++
	return nil
}

func (c *slotConn) done() {
	c.mu.Lock()
	c.busy--
	c.last = time.Now()
	c.mu.Unlock()
}

func (c *slotConn) Read(p []byte) (int, error) {
	if err := c.use(); err != nil {
		return 0, err
	}
	defer c.done()
	return c.Conn.Read(p)
}

func (c *slotConn) Write(p []byte) (int, error) {
	if err := c.use(); err != nil {
		return 0, err
	}
	defer c.done()
	return c.Conn.Write(p)
}

func (c *slotConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.idleTime.Stop()
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// acquireSlotSQL takes a free slot of the destination.
const acquireSlotSQL = `UPDATE smtpkit_outbox_slots SET holder = $3, token = $4, since = clock_timestamp()
WHERE destination = $1 AND slot = (
	SELECT slot FROM smtpkit_outbox_slots
	WHERE destination = $1 AND slot < $2 AND holder IS NULL
	ORDER BY slot LIMIT 1
	FOR UPDATE SKIP LOCKED)
RETURNING slot`

// acquireSlot takes a connection slot, waiting for one until ctx ends.
func (s *Store) acquireSlot(ctx context.Context) (slot int32, token string, err error) {
	l := &s.opts.Limit
	holder, gen, err := s.sess.current(ctx)
	if err != nil {
		return 0, "", err
	}
	s.mu.Lock()
	made := s.slotsMade
	s.mu.Unlock()
	if !made {
		if _, err := s.db.Exec(ctx, `INSERT INTO smtpkit_outbox_slots (destination, slot)
			SELECT $1, generate_series(0, $2 - 1) ON CONFLICT DO NOTHING`, l.Destination, l.MaxConns); err != nil {
			return 0, "", fmt.Errorf("outbox/postgres: the connection slots of %q: %w", l.Destination, err)
		}
		s.mu.Lock()
		s.slotsMade = true
		s.mu.Unlock()
	}
	token = newToken()
	s.mu.Lock()
	s.slots[token] = -1
	s.mu.Unlock()
	for {
		wake := s.sess.wakeChan(wakeSlots)
		err := s.db.QueryRow(ctx, acquireSlotSQL, l.Destination, l.MaxConns, holder, token).Scan(&slot)
		if err == nil {
			s.mu.Lock()
			s.slots[token] = slot
			s.mu.Unlock()
			if s.sess.generation() != gen {
				if err := s.adopt(ctx, 0); err != nil {
					s.logger().Error("outbox/postgres: moving a connection slot to the new session failed", "err", err)
				}
			}
			return slot, token, nil
		}
		if ctx.Err() == nil && !errors.Is(err, pgx.ErrNoRows) {
			s.forgetSlot(token)
			return 0, "", fmt.Errorf("outbox/postgres: taking a connection slot of %q: %w", l.Destination, err)
		}
		if ctx.Err() == nil {
			if err := s.rescueNow(ctx); err != nil {
				s.logger().Error("outbox/postgres: freeing the slots of processes that died failed", "err", err)
			}
		}
		t := time.NewTimer(slotPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			s.forgetSlot(token)
			return 0, "", fmt.Errorf("outbox/postgres: all %d connection slots of %q (Limit.MaxConns) stayed taken: %w",
				l.MaxConns, l.Destination, context.Cause(ctx))
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// releaseSlot gives a slot back and wakes the dials waiting for one.
func (s *Store) releaseSlot(slot int32, token string) {
	defer s.forgetSlot(token)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.db.Exec(ctx, `WITH r AS (
			UPDATE smtpkit_outbox_slots SET holder = NULL, token = NULL, since = NULL
			WHERE destination = $1 AND slot = $2 AND token = $3
			RETURNING 1)
		SELECT pg_notify($4, $5) FROM r`, s.opts.Limit.Destination, slot, token, s.channel, payloadSlots)
	if err != nil {
		// The slot stays taken until this process's session ends.
		s.logger().Error("outbox/postgres: giving a connection slot back failed", "slot", slot, "err", err)
	}
}

func (s *Store) forgetSlot(token string) {
	s.mu.Lock()
	delete(s.slots, token)
	s.mu.Unlock()
}
