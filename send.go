package smtpkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/smtpkit/smtpkit/internal/wire"
)

// Result says what the server did with a message.
type Result struct {
	// Recipients holds the server's reply to each recipient, in Envelope.To order.
	Recipients []RecipientResult
	// Reply is the server's reply to the end of the data, often with a queue id.
	Reply Reply
}

// RecipientResult is the server's reply to one recipient.
type RecipientResult struct {
	Address string
	Reply   Reply
}

// Accepted reports whether the server accepted the recipient.
func (r RecipientResult) Accepted() bool { return r.Reply.Code/100 == 2 }

// Accepted returns the recipients the server accepted.
func (r *Result) Accepted() []string {
	var out []string
	for _, rr := range r.Recipients {
		if rr.Accepted() {
			out = append(out, rr.Address)
		}
	}
	return out
}

// Refused returns the recipients the server refused, with its replies;
// Reply.Code tells a temporary (4xx) from a permanent (5xx) refusal.
func (r *Result) Refused() []RecipientResult {
	var out []RecipientResult
	for _, rr := range r.Recipients {
		if !rr.Accepted() {
			out = append(out, rr)
		}
	}
	return out
}

// chunkSize is the largest BDAT chunk; one buffer of it is all the memory a
// message takes, however large.
const chunkSize = 256 << 10

// Send sends one message: the envelope, then msg, streamed and never read
// whole into memory. With PIPELINING the envelope and the start of the data
// go in one write; with CHUNKING as well the message goes as BDAT chunks
// written ahead of their replies, so a small message costs one round trip.
//
// A refused recipient does not stop the others: the Result tells which were
// accepted and which refused. When every recipient is refused the message
// is not delivered and the error is ErrAllRecipientsRefused. Any other
// failure is an *Error of phase mail, rcpt or data; the Result, when not
// nil, still holds the recipients' replies.
func (c *Client) Send(ctx context.Context, env *Envelope, msg io.Reader) (_ *Result, err error) {
	ctx, cancel := operation(ctx, c.t.opts.Timeout)
	defer cancel()
	tx, err := c.newTransaction(ctx, env, msg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && c.err != nil && !tx.ended {
			err = tx.cutShort(err)
		}
		tx.done(err)
	}()
	switch {
	case tx.chunked && c.caps.Pipelining():
		p := &pipe{c: c, ctx: ctx, pending: make([]awaited, 0, 4)} // MAIL, RCPT, BDAT
		p.queue(tx, false)
		p.drain()
		if err = tx.err; err == nil && p.err != nil {
			err = p.err
		}
		return tx.result, err
	case c.caps.Pipelining():
		err = tx.pipelined()
	default:
		err = tx.stepwise()
	}
	if err != nil && c.err == nil {
		c.needReset = true
	}
	return tx.result, err
}

// newTransaction checks the envelope against the server's offer; nothing is sent.
func (c *Client) newTransaction(ctx context.Context, env *Envelope, msg io.Reader) (*transaction, error) {
	if err := c.usable(PhaseMail); err != nil {
		return nil, err
	}
	size := env.Size
	if l, ok := msg.(interface{ Len() int }); ok && size == 0 {
		size = int64(l.Len())
	}
	mail, rcpts, err := env.mailArgs(c.caps, c.tlsState != nil, size)
	if err != nil {
		return nil, &Error{Phase: PhaseMail, Addr: c.t.addr, Err: err}
	}
	tx := &transaction{c: c, ctx: ctx, env: env, mail: mail, rcpts: rcpts, msg: msg, size: size,
		chunked: c.caps.Chunking(), result: &Result{Recipients: make([]RecipientResult, len(env.To))}}
	return tx, nil
}

// readError says the message source failed.
func readError(err error) error { return fmt.Errorf("reading the message: %w", err) }

// transaction is one MAIL, RCPT..., DATA or BDAT exchange.
type transaction struct {
	c       *Client
	ctx     context.Context
	env     *Envelope
	mail    []string
	rcpts   [][]string
	msg     io.Reader
	size    int64    // the message's size when known, else 0
	chunked bool     // BDAT rather than DATA
	chunks  *chunker // the Client's, from when the first chunk is cut
	result  *Result
	err     error // in a pipe: the transaction's failure, once known
	ended   bool  // the reply to the end of the data was read
	reset   bool  // the envelope began with RSET
	endAt   int64 // where the end of the data stands in the bytes given to the connection; 0 until queued
}

// done tells Trace how the transaction ended.
func (tx *transaction) done(err error) {
	if tx.c.t.p.tracing {
		tx.c.t.emit(TransactionDone{Conn: tx.c.conn(), From: tx.env.From, Result: tx.result, Err: err})
	}
}

// write buffers one command; nothing is flushed.
func (tx *transaction) write(verb string, args ...string) error {
	return tx.c.send(tx.ctx, PhaseMail, verb, args...)
}

// read flushes what is buffered and reads one reply.
func (tx *transaction) read(p Phase) (*Reply, error) {
	return tx.c.reply(tx.ctx, p, time.Now(), tx.c.t.opts.CommandTimeout, ErrCommandTimeout)
}

// envelope buffers RSET when an earlier transaction was left open, then MAIL
// and every RCPT; stepwise, it reads each reply as it goes.
func (tx *transaction) envelope(stepwise bool) error {
	if tx.c.needReset {
		if err := tx.write("RSET"); err != nil {
			return err
		}
		if stepwise {
			if err := tx.resetReply(); err != nil {
				return err
			}
		}
	}
	if err := tx.write("MAIL", tx.mail...); err != nil {
		return err
	}
	if stepwise {
		if err := tx.mailReply(); err != nil {
			return err
		}
	}
	for i, args := range tx.rcpts {
		if err := tx.write("RCPT", args...); err != nil {
			return err
		}
		if stepwise {
			if err := tx.rcptReply(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (tx *transaction) resetReply() error {
	r, err := tx.read(PhaseReset)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return tx.c.replyError(PhaseReset, r, nil)
	}
	tx.c.needReset = false
	return nil
}

func (tx *transaction) mailReply() error {
	r, err := tx.read(PhaseMail)
	if err != nil {
		return err
	}
	if r.Code/100 != 2 {
		return tx.c.replyError(PhaseMail, r, nil)
	}
	return nil
}

func (tx *transaction) rcptReply(i int) error {
	r, err := tx.read(PhaseRcpt)
	if err != nil {
		return err
	}
	tx.result.Recipients[i] = RecipientResult{Address: tx.env.To[i], Reply: *r}
	return nil
}

// allRefused returns ErrAllRecipientsRefused, as an *Error carrying the
// first refusal, when no recipient was accepted.
func (tx *transaction) allRefused() error {
	if len(tx.result.Accepted()) > 0 {
		return nil
	}
	first := tx.result.Recipients[0].Reply
	return tx.c.replyError(PhaseRcpt, &first, ErrAllRecipientsRefused)
}

// stepwise runs the transaction one command at a time, for servers without PIPELINING.
func (tx *transaction) stepwise() error {
	if err := tx.envelope(true); err != nil {
		return err
	}
	if err := tx.allRefused(); err != nil {
		return err
	}
	if tx.chunked {
		return tx.bdat()
	}
	if err := tx.write("DATA"); err != nil {
		return err
	}
	r, err := tx.read(PhaseData)
	if err != nil {
		return err
	}
	if r.Code != 354 {
		return tx.c.replyError(PhaseData, r, nil)
	}
	return tx.data()
}

// pipelined sends the envelope and DATA in one write and then reads every
// reply in order, checking each (RFC 2920); after a 354, the message and
// its final reply. With CHUNKING as well, the pipe of SendBatch does better.
func (tx *transaction) pipelined() error {
	if err := tx.sendEnvelope(); err != nil {
		return err
	}
	proceed, err := tx.readEnvelope()
	if err != nil || !proceed {
		return err
	}
	if err := tx.writeContent(); err != nil {
		return err
	}
	return tx.readFinal()
}

// sendEnvelope buffers RSET when an earlier transaction was left open,
// MAIL, every RCPT and DATA: one group of RFC 2920. Nothing is flushed.
func (tx *transaction) sendEnvelope() error {
	tx.reset = tx.c.needReset
	if err := tx.envelope(false); err != nil {
		return err
	}
	return tx.write("DATA")
}

// readEnvelope reads the replies to sendEnvelope's group, in order, all of
// them even after a failure, to keep replies and commands in step. It
// reports whether the message is to follow: DATA was answered 354 and
// nothing failed. A 354 after a failure is answered with an empty message
// (RFC 2920), whose reply is read too. A transaction that failed is left
// open for the server: the next one starts with RSET.
func (tx *transaction) readEnvelope() (proceed bool, err error) {
	var failed error
	if tx.reset {
		failed = tx.resetReply()
	}
	if err := tx.mailReply(); err != nil && failed == nil {
		failed = err
	}
	for i := range tx.rcpts {
		if err := tx.rcptReply(i); err != nil {
			return false, err
		}
	}
	if failed == nil {
		failed = tx.allRefused()
	}
	r, err := tx.read(PhaseData)
	if err != nil {
		return false, err
	}
	switch {
	case r.Code == 354 && failed != nil:
		if err := tx.write("."); err != nil {
			return false, err
		}
		if _, err := tx.read(PhaseData); err != nil {
			return false, err
		}
		tx.err = failed
		return false, failed
	case r.Code == 354:
		return true, nil
	case failed == nil:
		failed = tx.c.replyError(PhaseData, r, nil)
	}
	tx.c.needReset = true
	tx.err = failed
	return false, failed
}

// data streams the message after a 354 and reads the final reply.
func (tx *transaction) data() error {
	if err := tx.writeContent(); err != nil {
		return err
	}
	return tx.readFinal()
}

// writeContent writes the message after a 354, dot-stuffed and ended with
// CRLF.CRLF; what is left in the buffer goes with the next flush. Each
// write may take DataTimeout, however long the whole message takes (RFC
// 5321 4.5.3.2). A message that cannot be read breaks the connection, so
// that no truncated message is delivered.
func (tx *transaction) writeContent() error {
	limit := tx.c.t.opts.DataTimeout
	var n int64
	var readErr error
	err := tx.c.write(tx.ctx, PhaseData, limit, func() error {
		dw := tx.c.dataWriter(&freshDeadline{ctx: tx.ctx, nc: tx.c.nc, limit: limit, w: tx.c.wire})
		// Read in pieces (hiding any WriterTo), so memory stays one buffer
		// and each write gets its own deadline.
		buf := tx.c.readBuffer()
		for {
			k, err := tx.msg.Read(buf)
			if k > 0 {
				if _, werr := dw.Write(buf[:k]); werr != nil {
					return werr
				}
				n += int64(k)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				readErr = err
				return err
			}
		}
		if err := dw.Close(); err != nil {
			return err
		}
		tx.endAt = tx.c.queued()
		return nil
	})
	if readErr != nil {
		tx.c.nc.Close()
		tx.c.err = &Error{Phase: PhaseData, Addr: tx.c.t.addr, Err: readError(readErr)}
		return tx.c.err
	}
	if err != nil {
		return err
	}
	if tx.c.t.p.tracing {
		tx.c.t.emit(DataSent{Conn: tx.c.conn(), Bytes: n, Last: true, TLS: tx.c.tlsState != nil})
	}
	return nil
}

// cutShort returns the error of a transaction the broken connection cut
// short: marked as not delivered when the end of its data never left the
// client, so it may be sent again, or wrapping ErrUnconfirmed when it did
// and the server's verdict was lost.
func (tx *transaction) cutShort(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != 0 {
		return err
	}
	cp := *e
	if tx.endAt == 0 || tx.endAt > tx.c.out.sent {
		cp.unanswered = true
	} else {
		cp.Err = fmt.Errorf("%w: %w", ErrUnconfirmed, e.Err)
	}
	return &cp
}

// readFinal sends what is buffered and reads the reply to the end of the
// data, which may take DataTimeout.
func (tx *transaction) readFinal() error {
	r, err := tx.c.reply(tx.ctx, PhaseData, time.Now(), tx.c.t.opts.DataTimeout, ErrCommandTimeout)
	if err != nil {
		return err
	}
	tx.ended = true
	return tx.final(r)
}

// freshDeadline gives each write of a long message its own deadline, so a
// message of any size can take as long as it needs while no single write
// can stall for more than limit. A cancelled context still wins.
type freshDeadline struct {
	ctx   context.Context
	nc    net.Conn
	limit time.Duration
	w     io.Writer
}

func (f *freshDeadline) Write(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, context.Cause(f.ctx)
	}
	f.nc.SetWriteDeadline(time.Now().Add(f.limit))
	if err := f.ctx.Err(); err != nil {
		// Cancelled while the deadline moved: make sure the cancellation
		// is not undone.
		f.nc.SetWriteDeadline(aLongTimeAgo)
		return 0, context.Cause(f.ctx)
	}
	return f.w.Write(p)
}

// final records the reply to the end of the data.
func (tx *transaction) final(r *Reply) error {
	tx.result.Reply = *r
	if r.Code/100 != 2 {
		return tx.c.replyError(PhaseData, r, nil)
	}
	return nil
}

// bdat sends the message as BDAT chunks, one at a time, each awaiting its
// reply: for servers with CHUNKING but not PIPELINING.
func (tx *transaction) bdat() error {
	tx.startChunks()
	for {
		data, last, err := tx.chunks.next()
		if err != nil {
			// The message could not be read: abandon the connection rather than
			// let a truncated message be delivered.
			tx.c.nc.Close()
			tx.c.err = &Error{Phase: PhaseData, Addr: tx.c.t.addr, Err: readError(err)}
			return tx.c.err
		}
		args := []string{strconv.Itoa(len(data))}
		if last {
			args = append(args, "LAST")
		}
		if err := tx.c.chunk(tx.ctx, data, last, args); err != nil {
			return err
		}
		if last {
			tx.endAt = tx.c.queued()
		}
		limit := tx.c.t.opts.CommandTimeout
		if last {
			limit = tx.c.t.opts.DataTimeout
		}
		r, err := tx.c.reply(tx.ctx, PhaseData, time.Now(), limit, ErrCommandTimeout)
		switch {
		case err != nil:
			return err
		case last:
			return tx.final(r)
		case r.Code/100 != 2:
			return tx.c.replyError(PhaseData, r, nil)
		}
	}
}

// chunk buffers one BDAT command and its data, within the data limit.
func (c *Client) chunk(ctx context.Context, data []byte, last bool, args []string) error {
	err := c.write(ctx, PhaseData, c.t.opts.DataTimeout, func() error {
		if err := c.wire.WriteCommand("BDAT", args...); err != nil {
			return err
		}
		_, err := c.wire.Write(data)
		return err
	})
	if err == nil && c.t.p.tracing {
		c.t.emit(DataSent{Conn: c.conn(), Bytes: int64(len(data)), Chunk: true, Last: last, TLS: c.tlsState != nil})
	}
	return err
}

// chunker cuts a message into BDAT chunks, normalising line endings unless
// the body is binary.
type chunker struct {
	src       io.Reader
	buf       bytes.Buffer
	norm      *wire.DataWriter
	normalise bool // false for BINARYMIME
	read      []byte
	eof       bool
}

// startChunks readies the Client's chunker for this message: one set of
// buffers serves every message of a connection, one after another.
func (tx *transaction) startChunks() {
	k := &tx.c.chunks
	k.src, k.eof = tx.msg, false
	k.buf.Reset()
	k.normalise = tx.env.Body != BodyBinaryMIME
	if k.norm == nil {
		k.norm = wire.NewNormalizer(&k.buf)
	}
	k.norm.Reset(&k.buf)
	// A buffer fitted to the expected size, so a small message costs a
	// small buffer; +1: room to see EOF in the same read.
	n := 32 << 10
	if tx.size > 0 && tx.size < int64(n) {
		n = int(max(tx.size+1, 512))
	}
	if cap(k.read) < n {
		k.read = make([]byte, n)
	}
	k.read = k.read[:cap(k.read)]
	tx.chunks = k
}

// dataWriter returns the Client's DATA writer, writing to w.
func (c *Client) dataWriter(w io.Writer) *wire.DataWriter {
	if c.dw == nil {
		c.dw = wire.NewDataWriter(w)
	}
	c.dw.Reset(w)
	return c.dw
}

// readBuffer returns the Client's buffer for reading messages.
func (c *Client) readBuffer() []byte {
	if c.readBuf == nil {
		c.readBuf = make([]byte, 32<<10)
	}
	return c.readBuf
}

// next returns the next chunk, valid until the following call, and whether
// it is the last.
func (k *chunker) next() ([]byte, bool, error) {
	for k.buf.Len() <= chunkSize && !k.eof {
		n, err := k.src.Read(k.read)
		if n > 0 {
			if k.normalise {
				k.norm.Write(k.read[:n])
			} else {
				k.buf.Write(k.read[:n])
			}
		}
		if err == io.EOF {
			k.eof = true
			if k.normalise {
				k.norm.Close()
			}
		} else if err != nil {
			return nil, false, err
		}
	}
	if k.buf.Len() > chunkSize {
		return k.buf.Next(chunkSize), false, nil
	}
	return k.buf.Next(k.buf.Len()), true, nil
}
