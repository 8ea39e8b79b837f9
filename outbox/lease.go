package outbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Claim locks the entry that has been due longest and returns it with its
// Lease token set. The lock lasts until Release or Finish, or until the
// process ends however it ends; lease is not needed for that and is
// ignored. When no entry is due it returns nil and the earliest time an
// entry it knows of falls due (zero when none).
//
// Entries enqueued by other processes are found by a scan of the
// directory, which Claim runs when it has nothing due in hand.
func (s *Spool) Claim(ctx context.Context, lease time.Duration) (*Entry, time.Time, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, time.Time{}, err
		}
		id, next, err := s.nextDue()
		if id == "" {
			return nil, next, err
		}
		e, f, err := s.lock(id)
		switch {
		case errors.Is(err, errLocked), errors.Is(err, fs.ErrNotExist):
			continue // another has it, or it is gone
		case err != nil:
			continue // unreadable: List reports it
		}
		if now := time.Now(); e.NextAttempt.After(now) {
			// Rescheduled by another since the scan.
			f.Close()
			s.mu.Lock()
			s.next = earliest(s.next, e.NextAttempt)
			s.mu.Unlock()
			continue
		}
		e.Lease = newToken()
		s.mu.Lock()
		s.leases[e.Lease] = &held{id: e.ID, lock: f}
		s.mu.Unlock()
		return e, time.Time{}, nil
	}
}

// nextDue pops the next due ID, scanning queue/ when none is in hand. It
// returns "" and the earliest future NextAttempt when nothing is due.
func (s *Spool) nextDue() (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.due) == 0 {
		now := time.Now()
		knownDue := !s.next.IsZero() && !s.next.After(now)
		if !knownDue && now.Sub(s.scanned) < rescanEvery {
			return "", s.next, nil
		}
		s.mu.Unlock()
		if time.Since(s.cleaned) > cleanEvery {
			s.clean()
		}
		found, err := s.scan()
		s.mu.Lock()
		s.scanned = now
		s.next = time.Time{}
		for _, e := range found {
			if e.next.After(now) {
				s.next = earliest(s.next, e.next)
			} else if !s.holds(e.id) {
				s.due = append(s.due, e.id)
			}
		}
		if len(s.due) == 0 {
			return "", s.next, err
		}
	}
	id := s.due[0]
	s.due = s.due[1:]
	return id, time.Time{}, nil
}

// holds reports whether s holds a lease on the entry id; called with s.mu held.
func (s *Spool) holds(id string) bool {
	for _, h := range s.leases {
		if h.id == id {
			return true
		}
	}
	return false
}

// earliest returns the earlier of two times, a zero time counting as none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// leased returns what s holds under e's lease, or ErrLeaseLost.
func (s *Spool) leased(e *Entry) (*held, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.leases[e.Lease]
	if !ok || h.id != e.ID {
		return nil, fmt.Errorf("outbox: entry %s: %w", e.ID, ErrLeaseLost)
	}
	return h, nil
}

// Update durably records e's state (recipients, attempts, next attempt,
// last error, doubts) under its lease; the envelope and message stay as
// enqueued.
func (s *Spool) Update(ctx context.Context, e *Entry) error {
	if _, err := s.leased(e); err != nil {
		return err
	}
	if err := writeEntry(s.entryDir(e.ID), e); err != nil {
		return fsError("recording the state of entry "+e.ID, err)
	}
	return nil
}

// Release unlocks e, which stays queued until its NextAttempt.
func (s *Spool) Release(ctx context.Context, e *Entry) error {
	h, err := s.leased(e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.leases, e.Lease)
	if e.NextAttempt.After(time.Now()) {
		s.next = earliest(s.next, e.NextAttempt)
	} else {
		s.due = append(s.due, e.ID)
	}
	s.mu.Unlock()
	h.lock.Close()
	s.notify()
	return nil
}

// Finish removes e from the spool under its lease, and ends the lease
// whether or not that worked.
func (s *Spool) Finish(ctx context.Context, e *Entry) error {
	h, err := s.leased(e)
	if err != nil {
		return err
	}
	gone, err := s.remove(e.ID)
	s.mu.Lock()
	delete(s.leases, e.Lease)
	if gone == "" {
		s.due = append(s.due, e.ID) // still queued
	}
	s.mu.Unlock()
	h.lock.Close()
	if gone != "" {
		os.RemoveAll(gone) // out of queue/ already: no lock needed
	}
	return err
}
