package main

import (
	"bytes"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"
)

// relay is a TCP relay to one address that works as a delay line: every
// chunk of bytes read from one side is written to the other side a fixed
// one-way delay after it was read, in order. The two directions are
// independent (a reader and a writer goroutine each, joined by a queue of
// timestamped chunks), so the relay is a pipe with latency: bytes already
// due are written at once, and nothing waits for anything but the clock.
//
// It also counts round trips; see relayStats.
type relay struct {
	ln     net.Listener
	target string
	delay  time.Duration
	strip  bool // remove CHUNKING from the server's EHLO reply

	mu    sync.Mutex
	stats relayStats
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// relayStats counts what crossed a relay.
//
// Rounds counts round trips: how many times the client sent something new
// after a server→client delivery that may have answered something the
// client sent since the previous counted round trip (the server wrote it
// after the relay had handed it client bytes of the current round). For a
// client that waits for each reply this is exactly the number of direction
// turns; for a client that keeps a window of commands in flight, replies to
// commands of an earlier round do not start a new one, so it counts rounds
// of the window, not replies.
//
// Turns counts every direction turn: a server→client delivery followed by
// client→server data, however many were in flight.
type relayStats struct {
	Rounds int64
	Turns  int64
	Up     int64 // client→server bytes
	Down   int64 // server→client bytes, after filtering
}

func (s relayStats) sub(o relayStats) relayStats {
	return relayStats{s.Rounds - o.Rounds, s.Turns - o.Turns, s.Up - o.Up, s.Down - o.Down}
}

// link is the turn-counting state of one relayed connection, guarded by relay.mu.
type link struct {
	upRead       int64 // client bytes read from the client
	upDelivered  int64 // client bytes handed to the server
	roundStart   int64 // offset of the first client byte of the current round
	pendingRound bool  // a delivery that starts a round was made
	pendingTurn  bool  // a delivery was made
}

// chunk is a piece of the byte stream and when it is due on the other side.
type chunk struct {
	data []byte
	due  time.Time
	seen int64 // server→client: client bytes handed to the server when it was read
}

// newRelay starts a relay to target on a free port of 127.0.0.1, delaying
// each direction by rtt/2. With stripChunking it removes the CHUNKING line
// from the server's multi-line replies (the EHLO reply), so the client sees
// a server that offers PIPELINING but not CHUNKING.
func newRelay(target string, rtt time.Duration, stripChunking bool) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, target: target, delay: rtt / 2, strip: stripChunking, conns: map[net.Conn]struct{}{}}
	r.wg.Go(r.accept)
	return r, nil
}

// Addr is the address clients connect to.
func (r *relay) Addr() string { return r.ln.Addr().String() }

// Stats returns the counts so far.
func (r *relay) Stats() relayStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Close stops accepting, closes every relayed connection and waits for the
// relay's goroutines.
func (r *relay) Close() error {
	err := r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Go(func() { r.serve(c) })
	}
}

func (r *relay) track(c net.Conn, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.conns[c] = struct{}{}
	} else {
		delete(r.conns, c)
	}
}

// serve relays one client connection to a new connection to the target.
func (r *relay) serve(client net.Conn) {
	server, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil {
		client.Close()
		return
	}
	r.track(client, true)
	r.track(server, true)
	defer func() {
		client.Close()
		server.Close()
		r.track(client, false)
		r.track(server, false)
	}()
	l := &link{roundStart: -1} // the greeting starts the first round
	up := make(chan chunk, 4096)
	down := make(chan chunk, 4096)
	var filter *chunkingFilter
	if r.strip {
		filter = &chunkingFilter{}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		r.read(client, up, nil, func(n int) int64 {
			if l.pendingRound {
				r.stats.Rounds++
				l.roundStart = l.upRead
				l.pendingRound = false
			}
			if l.pendingTurn {
				r.stats.Turns++
				l.pendingTurn = false
			}
			l.upRead += int64(n)
			r.stats.Up += int64(n)
			return 0
		})
	})
	wg.Go(func() {
		r.write(server, client, up, func(c chunk) {
			// Counted before the write: once written, the server may answer
			// before the write returns.
			l.upDelivered += int64(len(c.data))
		})
	})
	wg.Go(func() {
		r.read(server, down, filter, func(n int) int64 {
			r.stats.Down += int64(n)
			return l.upDelivered
		})
	})
	wg.Go(func() {
		r.write(client, server, down, func(c chunk) {
			// Marked before the write, for the same reason.
			l.pendingTurn = true
			if c.seen > l.roundStart {
				l.pendingRound = true
			}
		})
	})
	wg.Wait()
}

// read queues what src sends, each chunk stamped with when it is due; at
// the end of the stream it closes the queue. onRead runs under the lock and
// returns the chunk's seen value.
func (r *relay) read(src net.Conn, q chan<- chunk, filter *chunkingFilter, onRead func(n int) int64) {
	defer close(q)
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 || err != nil {
			now := time.Now()
			data := bytes.Clone(buf[:n])
			if filter != nil {
				data = filter.process(data)
				if err != nil {
					data = append(data, filter.flush()...)
				}
			}
			if len(data) > 0 {
				r.mu.Lock()
				seen := onRead(len(data))
				r.mu.Unlock()
				q <- chunk{data: data, due: now.Add(r.delay), seen: seen}
			}
		}
		if err != nil {
			return
		}
	}
}

// write writes each queued chunk to dst when it is due; after the last one
// it half-closes dst. beforeWrite runs under the lock. On a write error both
// connections are closed and the rest of the queue is dropped.
func (r *relay) write(dst, src net.Conn, q <-chan chunk, beforeWrite func(chunk)) {
	failed := false
	for c := range q {
		if failed {
			continue
		}
		waitUntil(c.due)
		r.mu.Lock()
		beforeWrite(c)
		r.mu.Unlock()
		if _, err := dst.Write(c.data); err != nil {
			failed = true
			dst.Close()
			src.Close()
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok && !failed {
		if err := tc.CloseWrite(); err != nil && !errors.Is(err, net.ErrClosed) {
			dst.Close()
		}
	}
}

// spinBelow is how close to a deadline waitUntil stops sleeping and
// yields instead: the runtime's timers may wake a sleeper up to about a
// millisecond late, which would add to the round-trip time.
const spinBelow = 1500 * time.Microsecond

// waitUntil returns at t, or as soon after as the scheduler allows.
func waitUntil(t time.Time) {
	for {
		d := time.Until(t)
		switch {
		case d <= 0:
			return
		case d > spinBelow:
			time.Sleep(d - spinBelow)
		default:
			runtime.Gosched()
		}
	}
}

// chunkingFilter removes the "CHUNKING" line from multi-line replies of the
// server→client stream. It passes complete lines only, and holds the lines
// of a multi-line reply until its last line, which is when a client can act
// on the reply anyway; when CHUNKING was the last line, the line before it
// becomes the last one.
type chunkingFilter struct {
	partial []byte   // an incomplete line
	held    [][]byte // the lines so far of a multi-line reply
}

func (f *chunkingFilter) process(in []byte) []byte {
	f.partial = append(f.partial, in...)
	var out []byte
	for {
		i := bytes.IndexByte(f.partial, '\n')
		if i < 0 {
			break
		}
		line := bytes.Clone(f.partial[:i+1])
		f.partial = f.partial[i+1:]
		if len(line) > 4 && line[3] == '-' {
			f.held = append(f.held, line)
			continue
		}
		out = f.emit(out, line)
	}
	f.partial = bytes.Clone(f.partial)
	return out
}

// flush returns whatever is held, at the end of the stream.
func (f *chunkingFilter) flush() []byte {
	var out []byte
	for _, l := range f.held {
		out = append(out, l...)
	}
	out = append(out, f.partial...)
	f.held, f.partial = nil, nil
	return out
}

// emit appends the held lines and last, less any CHUNKING line, to out.
func (f *chunkingFilter) emit(out, last []byte) []byte {
	lines := append(f.held, last)
	f.held = nil
	if len(lines) == 1 {
		return append(out, last...)
	}
	var kept [][]byte
	for _, l := range lines {
		if !isChunkingLine(l) {
			kept = append(kept, l)
		}
	}
	if len(kept) > 0 && isChunkingLine(last) {
		kept[len(kept)-1][3] = ' '
	}
	for _, l := range kept {
		out = append(out, l...)
	}
	return out
}

func isChunkingLine(l []byte) bool {
	return len(l) > 4 && (l[3] == '-' || l[3] == ' ') &&
		strings.EqualFold(strings.TrimSpace(string(l[4:])), "CHUNKING")
}
