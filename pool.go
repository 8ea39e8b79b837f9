package smtpkit

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// ErrPoolClosed means the Pool was closed and sends nothing more.
var ErrPoolClosed = errors.New("the pool is closed")

// Pool shares connections to one server among goroutines: it dials as
// needed up to MaxConns, reuses idle connections after checking that the
// server has not closed them, and retires them when idle too long. The zero
// value with Addr set is ready to use; it must not be copied after first use.
type Pool struct {
	// Addr is the server's address, host:port.
	Addr string
	// Dialer makes the pool's connections, and holds what they share (the
	// TLS files read once, the mode Auto found); nil means a zero Dialer of
	// the pool's own.
	Dialer *Dialer
	// MaxConns bounds the connections open at once; zero means 4.
	MaxConns int
	// IdleTimeout is how long a connection may wait unused before it is
	// closed rather than reused; zero means one minute.
	IdleTimeout time.Duration
	// MaxMessages retires a connection after that many messages, for servers
	// that limit messages per connection; zero means no limit.
	MaxMessages int

	once     sync.Once
	dialer   *Dialer
	retiring sync.WaitGroup       // QUITs of retired connections, which Close waits for
	retired  map[*Client]struct{} // the connections saying QUIT, under mu
	slots    chan struct{}        // one token per connection in use
	mu       sync.Mutex
	idle     []*pooled // most recently used last
	inUse    int
	closed   bool
	drained  chan struct{} // closed when the pool is closed and nothing is in use
}

// pooled is a connection and what the pool knows of it.
type pooled struct {
	c     *Client
	since time.Time // returned to the pool at
	sent  int       // messages sent on it
}

func (p *Pool) init() {
	p.once.Do(func() {
		n := p.MaxConns
		if n <= 0 {
			n = 4
		}
		p.slots = make(chan struct{}, n)
		p.drained = make(chan struct{})
		p.dialer = p.Dialer
		if p.dialer == nil {
			p.dialer = &Dialer{}
		}
	})
}

func (p *Pool) idleTimeout() time.Duration {
	if p.IdleTimeout > 0 {
		return p.IdleTimeout
	}
	return time.Minute
}

// get returns a connection for the caller's exclusive use: an idle one that
// is still alive, or a new one. reused reports which.
func (p *Pool) get(ctx context.Context) (pc *pooled, reused bool, err error) {
	p.init()
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, &Error{Phase: PhaseConnect, Addr: p.Addr, Err: context.Cause(ctx)}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, false, &Error{Phase: PhaseConnect, Addr: p.Addr, Err: ErrPoolClosed}
	}
	p.inUse++
	for len(p.idle) > 0 {
		pc = p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(pc.since) < p.idleTimeout() && pc.c.alive() {
			p.mu.Unlock()
			return pc, true, nil
		}
		p.retire(pc.c)
	}
	p.mu.Unlock()
	c, err := p.dialer.Dial(ctx, p.Addr)
	if err != nil {
		p.release()
		return nil, false, err
	}
	return &pooled{c: c}, false, nil
}

// put returns a connection to the pool, or closes it when it is broken,
// has sent its share, or the pool is closed.
func (p *Pool) put(pc *pooled) {
	p.mu.Lock()
	keep := !p.closed && pc.c.usable(PhaseMail) == nil && (p.MaxMessages <= 0 || pc.sent < p.MaxMessages)
	if keep {
		pc.since = time.Now()
		p.idle = append(p.idle, pc)
	}
	if !keep {
		p.retire(pc.c)
	}
	p.mu.Unlock()
	p.release()
}

// retireLimit bounds the QUIT of a retired connection: a polite goodbye,
// not worth waiting the command limit for.
const retireLimit = 5 * time.Second

// retire says QUIT on c and closes it, in a goroutine of its own so the
// caller never waits for it; Close waits for it, up to its context.
// Called with p.mu held.
func (p *Pool) retire(c *Client) {
	if c.usable(PhaseQuit) != nil {
		c.Close()
		return
	}
	if p.retired == nil {
		p.retired = map[*Client]struct{}{}
	}
	p.retired[c] = struct{}{}
	p.retiring.Add(1)
	go func() {
		defer p.retiring.Done()
		ctx, cancel := context.WithTimeout(context.Background(), min(retireLimit, c.t.opts.CommandTimeout))
		defer cancel()
		c.Quit(ctx)
		p.mu.Lock()
		delete(p.retired, c)
		p.mu.Unlock()
	}()
}

func (p *Pool) release() {
	p.mu.Lock()
	p.inUse--
	if p.closed && p.inUse == 0 {
		close(p.drained)
	}
	p.mu.Unlock()
	<-p.slots
}

// Send sends one message on a pooled connection. When a reused connection
// turns out to have been closed by the server before the end of the
// message left the client, or with a 421, nothing can have been delivered:
// the message is sent again on another connection, provided msg can be
// rewound (an io.Seeker, such as strings.Reader, bytes.Reader or os.File).
// When the connection broke after the whole message was sent and before
// the server's verdict, the error wraps ErrUnconfirmed: it may have been
// delivered, and the Pool never sends it twice.
func (p *Pool) Send(ctx context.Context, env *Envelope, msg io.Reader) (*Result, error) {
	pc, reused, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	start, seekable := offset(msg)
	res, err := pc.c.Send(ctx, env, msg)
	pc.sent++
	if err != nil && reused && unanswered(err) && seekable {
		if _, serr := msg.(io.Seeker).Seek(start, io.SeekStart); serr == nil {
			p.put(pc)
			if pc, _, err = p.get(ctx); err != nil {
				return nil, err
			}
			res, err = pc.c.Send(ctx, env, msg)
			pc.sent++
		}
	}
	p.put(pc)
	return res, err
}

// offset returns where a seekable reader stands.
func offset(r io.Reader) (int64, bool) {
	s, ok := r.(io.Seeker)
	if !ok {
		return 0, false
	}
	off, err := s.Seek(0, io.SeekCurrent)
	return off, err == nil
}

// unanswered reports whether nothing of the transaction can have been
// accepted: err broke the connection before the end of its data left the
// client, or the server answered 421, closing (RFC 5321 3.8), as a server
// that times out an idle connection does.
func unanswered(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.unanswered || e.Code == 421)
}

// maxStalledRounds is how many rounds of SendAll in a row may get nothing
// through before it gives up on the messages left.
const maxStalledRounds = 3

// sendBatchSize is how many messages of SendAll one connection takes at a time.
const sendBatchSize = 32

// SendAll sends mails over up to MaxConns connections at once, each taking
// batches of messages in turn (pipelined, see Client.SendBatch), and returns
// one result per mail, in order. Messages fail or succeed one by one. A
// message that a broken connection cut short before its end left the
// client (so it cannot have been delivered), or that a 421 refused, is sent
// again on another connection, dialled as needed, when its reader can be
// rewound (an io.Seeker), until three rounds in a row get nothing
// through. A message whose whole data was sent when the connection broke
// fails with ErrUnconfirmed (it may have been delivered) and is not sent
// again.
//
// progress, when not nil, is called once per mail with its final result as
// soon as it is known, from the sending goroutines: it must be safe for
// concurrent use.
func (p *Pool) SendAll(ctx context.Context, mails []Mail, progress func(i int, r BatchResult)) []BatchResult {
	p.init()
	out := make([]BatchResult, len(mails))
	starts := make([]int64, len(mails))
	seekable := make([]bool, len(mails))
	all := make([]int, len(mails))
	for i := range mails {
		all[i] = i
		starts[i], seekable[i] = offset(mails[i].Message)
	}
	// A result is final unless the message may go again; those are
	// reported once the rounds are over.
	retriable := func(i int) bool { return out[i].Err != nil && unanswered(out[i].Err) && seekable[i] }
	report := func(i int) {
		if progress != nil && !retriable(i) {
			progress(i, out[i])
		}
	}
	// Send, then send again what a broken connection cut short, on new
	// connections, until a few rounds in a row get nothing through.
	pending := all
	for stalled := 0; len(pending) > 0 && ctx.Err() == nil; {
		p.sendEach(ctx, mails, pending, out, report)
		var again []int
		for _, i := range pending {
			if retriable(i) {
				again = append(again, i)
			}
		}
		if len(again) < len(pending) {
			stalled = 0
		} else if stalled++; stalled == maxStalledRounds {
			break // the server takes nothing
		}
		pending = pending[:0]
		for _, i := range again {
			if _, err := mails[i].Message.(io.Seeker).Seek(starts[i], io.SeekStart); err != nil {
				// Not sent again: from where it stands, it would go out cut short.
				seekable[i] = false
				out[i].Err = readError(err)
				report(i)
				continue
			}
			pending = append(pending, i)
		}
	}
	if progress != nil {
		for _, i := range pending {
			if retriable(i) {
				progress(i, out[i])
			}
		}
	}
	return out
}

// sendEach sends the mails at indexes over the pool's connections, in
// batches, writes their results to out and reports each index.
func (p *Pool) sendEach(ctx context.Context, mails []Mail, indexes []int, out []BatchResult, report func(int)) {
	var mu sync.Mutex
	next := 0
	take := func() []int {
		mu.Lock()
		defer mu.Unlock()
		from := next
		next = min(next+sendBatchSize, len(indexes))
		return indexes[from:next]
	}
	var wg sync.WaitGroup
	for range min(cap(p.slots), (len(indexes)+sendBatchSize-1)/sendBatchSize) {
		wg.Go(func() {
			for batch := take(); len(batch) > 0; batch = take() {
				pc, _, err := p.get(ctx)
				if err != nil {
					for _, i := range batch {
						out[i].Err = err
						report(i)
					}
					continue
				}
				group := make([]Mail, len(batch))
				for k, i := range batch {
					group[k] = mails[i]
				}
				for k, r := range pc.c.SendBatch(ctx, group) {
					out[batch[k]] = r
					report(batch[k])
				}
				pc.sent += len(batch)
				p.put(pc)
			}
		})
	}
	wg.Wait()
}

// Close stops the pool: idle connections are closed with QUIT at once and
// the ones in use when they are returned. It waits for that until ctx ends,
// then closes what is left without QUIT.
func (p *Pool) Close(ctx context.Context) error {
	p.init()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	if p.inUse == 0 {
		close(p.drained)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pc := range idle {
		wg.Go(func() { pc.c.Quit(ctx) })
	}
	wg.Wait()
	var err error
	select {
	case <-p.drained:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	// Wait for the QUITs under way; when ctx has ended, cut them short.
	retired := make(chan struct{})
	go func() { p.retiring.Wait(); close(retired) }()
	select {
	case <-retired:
	case <-ctx.Done():
		err = context.Cause(ctx)
		p.mu.Lock()
		for c := range p.retired {
			c.Close()
		}
		p.mu.Unlock()
		<-retired
	}
	return err
}
