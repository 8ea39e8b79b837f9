package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/smtpkit/smtpkit"
)

// notQueued begins every error of Enqueue, so nobody mistakes one for a
// message that is safe.
const notQueued = "the message was not queued"

// copyBuffer is the one buffer an Enqueue reads a message through, whatever its size.
const copyBuffer = 256 << 10

// Enqueue writes msg and env to a new entry, due at once, and returns its
// ID once both are on disk: the message is streamed to a file in tmp/ (a
// 1 GiB message costs one buffer of memory), the state written beside it,
// both synced, the directory renamed into queue/ and queue/ synced. When
// it returns an error nothing was queued, and the error says why: an
// invalid envelope (smtpkit.ErrInvalidArgument), msg failing, ctx ending,
// or the file system (a full disk matches syscall.ENOSPC, a read-only one
// syscall.EROFS).
//
// The message is stored as given; line endings are normalised when it is
// sent. A zero env.Size is sent as the stored size.
func (s *Spool) Enqueue(ctx context.Context, env *smtpkit.Envelope, msg io.Reader) (string, error) {
	if err := checkEnvelope(env); err != nil {
		return "", fmt.Errorf("outbox: %s: %w", notQueued, err)
	}
	now := time.Now()
	id := newID(now)
	dir := filepath.Join(s.tmp(), id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fsError(notQueued, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		os.Remove(dir)
		return "", fsError(notQueued, err)
	}
	defer func() {
		if lock != nil {
			lock.Close()
		}
	}()
	queued := false
	defer func() {
		if !queued {
			os.RemoveAll(dir)
		}
	}()
	size, err := copyMessage(ctx, filepath.Join(dir, messageFile), msg)
	if err != nil {
		return "", err
	}
	e := &Entry{ID: id, Envelope: *env, Size: size, Created: now, NextAttempt: now}
	e.Envelope.To = slices.Clone(env.To)
	for _, to := range env.To {
		e.Recipients = append(e.Recipients, Recipient{Address: to, Status: Pending})
	}
	b, err := json.Marshal(toFile(e))
	if err != nil {
		return "", fmt.Errorf("outbox: %s: %w", notQueued, err)
	}
	if err := writeSynced(filepath.Join(dir, stateFile), b); err != nil {
		return "", fsError(notQueued, err)
	}
	if err := syncDir(dir); err != nil {
		return "", fsError(notQueued, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("outbox: %s: %w", notQueued, context.Cause(ctx))
	}
	if err := os.Rename(dir, s.entryDir(id)); err != nil {
		return "", fsError(notQueued, err)
	}
	if err := s.queueSync.sync(); err != nil {
		// Whether the entry would survive a crash is unknown: take it
		// back, so that a caller who enqueues again sends it once.
		os.Rename(s.entryDir(id), dir)
		return "", fsError(notQueued, err)
	}
	queued = true
	// Let go before telling the runners, or the first to look finds it held.
	lock.Close()
	lock = nil
	s.mu.Lock()
	s.due = append(s.due, id)
	s.mu.Unlock()
	s.notify()
	return id, nil
}

// copyMessage streams msg into a new file at path and syncs it, checking
// ctx between reads.
func copyMessage(ctx context.Context, path string, msg io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fsError(notQueued, err)
	}
	defer f.Close()
	buf := make([]byte, copyBuffer)
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("outbox: %s: %w", notQueued, context.Cause(ctx))
		}
		n, rerr := msg.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return 0, fsError(notQueued, err)
			}
			size += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, fmt.Errorf("outbox: %s: reading it failed: %w", notQueued, rerr)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, fsError(notQueued, err)
	}
	if err := f.Close(); err != nil {
		return 0, fsError(notQueued, err)
	}
	return size, nil
}

// checkEnvelope refuses, before anything is written, an envelope that no
// attempt could ever send.
func checkEnvelope(env *smtpkit.Envelope) error {
	if env == nil {
		return fmt.Errorf("no envelope: %w", smtpkit.ErrInvalidArgument)
	}
	return env.Validate()
}
