package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/smtpkit/smtpkit/outbox"
)

// Open returns the message of the entry id, from its first byte. The
// reader fetches one chunk (ChunkSize bytes) at a time, each with a query
// of its own bounded by ctx, and is an io.Seeker. When the entry leaves
// the store while it is read, Read fails: a message is never cut short
// without an error. A message of one chunk of up to 64 KiB that Claim
// handed out was read with its entry, and costs no query.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	m := &message{s: s, ctx: ctx, id: id}
	s.mu.Lock()
	p, ok := s.bodies[id]
	delete(s.bodies, id)
	s.mu.Unlock()
	if ok {
		// A message does not change once queued: what Claim read is it.
		m.size, m.chunkSize, m.buf = p.size, p.chunkSize, p.data
		return m, nil
	}
	var data []byte
	err := s.db.QueryRow(ctx, `SELECT e.size, e.chunk_size, c.data
		FROM smtpkit_outbox_entries e
		LEFT JOIN smtpkit_outbox_chunks c ON c.entry_id = e.id AND c.seq = 0
		WHERE e.id = $1`, id).Scan(&m.size, &m.chunkSize, &data)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("outbox/postgres: entry %s: %w", id, outbox.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("outbox/postgres: opening the message of entry %s: %w", id, err)
	case m.chunkSize <= 0:
		return nil, fmt.Errorf("outbox/postgres: entry %s has the chunk size %d", id, m.chunkSize)
	}
	if m.size > 0 && data == nil {
		return nil, fmt.Errorf("outbox/postgres: the message of entry %s (%d bytes) has no first chunk", id, m.size)
	}
	m.buf = data
	return m, nil
}

// prefetched is a message of one chunk that Claim read with its entry.
type prefetched struct {
	size      int64
	chunkSize int32
	data      []byte
}

// message reads a stored message chunk by chunk.
type message struct {
	s         *Store
	ctx       context.Context
	id        string
	size      int64
	chunkSize int32
	off       int64 // where the next Read starts
	bufOff    int64 // the offset of buf's first byte
	buf       []byte
	closed    bool
}

func (m *message) Read(p []byte) (int, error) {
	if m.closed {
		return 0, fmt.Errorf("outbox/postgres: the message of entry %s: read after Close", m.id)
	}
	if m.off >= m.size {
		return 0, io.EOF
	}
	if m.off < m.bufOff || m.off >= m.bufOff+int64(len(m.buf)) {
		if err := m.fetch(m.off / int64(m.chunkSize)); err != nil {
			return 0, err
		}
	}
	n := copy(p, m.buf[m.off-m.bufOff:])
	m.off += int64(n)
	return n, nil
}

// fetch reads chunk seq into m.buf, reusing its memory.
func (m *message) fetch(seq int64) error {
	data := pgtype.PreallocBytes(m.buf[:cap(m.buf)])
	err := m.s.db.QueryRow(m.ctx, `SELECT data FROM smtpkit_outbox_chunks WHERE entry_id = $1 AND seq = $2`,
		m.id, seq).Scan(&data)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("outbox/postgres: the message of entry %s ends at byte %d of %d: %w",
			m.id, seq*int64(m.chunkSize), m.size, io.ErrUnexpectedEOF)
	case err != nil:
		return fmt.Errorf("outbox/postgres: reading the message of entry %s: %w", m.id, err)
	}
	want := min(int64(m.chunkSize), m.size-seq*int64(m.chunkSize))
	if int64(len(data)) != want {
		return fmt.Errorf("outbox/postgres: the message of entry %s: chunk %d holds %d bytes, want %d: %w",
			m.id, seq, len(data), want, io.ErrUnexpectedEOF)
	}
	m.buf, m.bufOff = data, seq*int64(m.chunkSize)
	return nil
}

// Seek sets where the next Read starts.
func (m *message) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += m.off
	case io.SeekEnd:
		offset += m.size
	default:
		return 0, fmt.Errorf("outbox/postgres: Seek: whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("outbox/postgres: Seek to %d, before the start", offset)
	}
	m.off = offset
	return offset, nil
}

// Close lets go of the chunk in memory.
func (m *message) Close() error {
	m.closed, m.buf = true, nil
	return nil
}
