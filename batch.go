package smtpkit

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"
)

// Mail is one message of a batch: its envelope and its content.
type Mail struct {
	Envelope Envelope
	Message  io.Reader
}

// BatchResult is the outcome of one message of a batch: a Result, an error, or both (see Send).
type BatchResult struct {
	Result *Result
	Err    error
}

// maxPendingReplies bounds the replies awaited at any time in a pipelined
// batch, so the server's replies always fit in the socket buffers and a
// stalled server cannot make the client buffer without limit.
const maxPendingReplies = 128

// SendBatch sends mails over the connection, in order. When the server offers
// both PIPELINING and CHUNKING the transactions themselves are pipelined: the
// next message's commands and data go out while earlier replies are still on
// their way, so a batch costs about one round trip per window of messages
// rather than per message. With PIPELINING alone, each message's data and
// final dot go out with the next message's envelope and DATA (RFC 2920
// 3.1): one round trip per message, for its 354. Without PIPELINING it is
// Send in a loop.
//
// With CHUNKING each transaction after the first begins with RSET,
// because whether the one before it failed is only known after it was sent;
// and a message whose recipients are all refused has had its data sent
// (the server discards it). A message that cannot be read breaks the
// connection: it and every later message fail. When the connection breaks,
// a message whose end never left the client was not delivered (its error
// is safe to retry, as Pool.SendAll does); one whose whole data was sent
// and whose verdict was lost fails with ErrUnconfirmed.
func (c *Client) SendBatch(ctx context.Context, mails []Mail) []BatchResult {
	out := make([]BatchResult, len(mails))
	if !c.caps.Pipelining() {
		for i := range mails {
			out[i].Result, out[i].Err = c.Send(ctx, &mails[i].Envelope, mails[i].Message)
		}
		return out
	}
	ctx, cancel := operation(ctx, c.t.opts.Timeout)
	defer cancel()
	if !c.caps.Chunking() {
		return c.dataBatch(ctx, mails, out)
	}
	p := &pipe{c: c, ctx: ctx, batch: len(mails) > 1}
	txs := make([]*transaction, len(mails))
	for i := range mails {
		if p.err != nil {
			out[i].Err = notSent(p.err)
			continue
		}
		tx, err := c.newTransaction(ctx, &mails[i].Envelope, mails[i].Message)
		if err != nil {
			out[i].Err = err
			continue
		}
		txs[i] = tx
		p.queue(tx, i > 0)
	}
	p.drain()
	for i, tx := range txs {
		if tx == nil {
			continue
		}
		out[i] = BatchResult{Result: tx.result, Err: tx.err}
		if tx.err == nil && p.err != nil && !tx.ended {
			out[i].Err = tx.cutShort(p.err)
		}
		tx.done(out[i].Err)
	}
	return out
}

// dataBatch sends mails with PIPELINING and DATA (RFC 2920 3.1): the
// message and its final dot are followed, in the same write, by the next
// transaction's envelope and DATA, so the batch waits once per message,
// for the next 354, and the final reply of one message comes with the
// replies of the next envelope. A message goes only after its own 354, so
// the data is never ambiguous, and a refused recipient or a failed
// message leaves the others as they are.
func (c *Client) dataBatch(ctx context.Context, mails []Mail, out []BatchResult) []BatchResult {
	txs := make([]*transaction, len(mails))
	for i := range mails {
		tx, err := c.newTransaction(ctx, &mails[i].Envelope, mails[i].Message)
		if err != nil {
			out[i].Err = err
			continue
		}
		txs[i] = tx
	}
	next := func(i int) int { // the next message that can be sent, or -1
		for i++; i < len(txs); i++ {
			if txs[i] != nil {
				return i
			}
		}
		return -1
	}
	var broken error // the connection broke: nothing more goes
	i := next(-1)
	if i >= 0 {
		broken = txs[i].sendEnvelope()
	}
	for ; i >= 0 && broken == nil; i = next(i) {
		tx := txs[i]
		proceed, err := tx.readEnvelope()
		if c.err != nil {
			broken = c.err
			tx.err = tx.cutShort(err)
			break
		}
		if proceed {
			if broken = tx.writeContent(); broken != nil {
				tx.err = tx.cutShort(broken)
				break
			}
		}
		if j := next(i); j >= 0 {
			if err := txs[j].sendEnvelope(); err != nil {
				broken = err
				if !proceed {
					break
				}
			}
		}
		if proceed {
			if err := tx.readFinal(); c.err != nil {
				broken, tx.err = c.err, tx.cutShort(err)
				break
			} else {
				tx.err = err
			}
		}
	}
	for k, tx := range txs {
		if tx == nil {
			continue
		}
		out[k] = BatchResult{Result: tx.result, Err: tx.err}
		if tx.err == nil && !tx.ended && broken != nil {
			out[k].Err = tx.cutShort(broken)
		}
		tx.done(out[k].Err)
	}
	return out
}

// pipe writes commands ahead of their replies and hands each reply, in
// order, to the function that waits for it.
type pipe struct {
	c       *Client
	ctx     context.Context
	pending []awaited
	batch   bool  // more than one transaction (SendBatch), not a lone Send
	whole   int64 // where the last whole transaction ends in the bytes given to the connection
	err     error // the connection broke: every later reply is lost
}

// awaited is a reply still to come, and what to do with it.
type awaited struct {
	tx      *transaction
	phase   Phase // the command's, for a 421 in reply to it
	onReply func(*Reply)
	end     int64 // where its command ends in the bytes given to the connection
}

// send buffers a command of tx (and data, for BDAT) whose reply goes to
// onReply, first reading replies when too many are pending.
func (p *pipe) send(tx *transaction, onReply func(*Reply), data []byte, last bool, verb string, args ...string) error {
	for p.err == nil && len(p.pending) >= maxPendingReplies {
		p.readOne()
	}
	if p.err != nil {
		return p.err
	}
	var err error
	if data == nil {
		err = p.c.send(p.ctx, PhaseMail, verb, args...)
	} else {
		err = p.c.chunk(p.ctx, data, last, args)
	}
	if err != nil {
		p.err = err
		return err
	}
	p.pending = append(p.pending, awaited{tx, commandPhase(verb), onReply, p.c.queued()})
	return nil
}

// commandPhase is the phase of a command written in a pipe.
func commandPhase(verb string) Phase {
	switch verb {
	case "RSET":
		return PhaseReset
	case "MAIL":
		return PhaseMail
	case "RCPT":
		return PhaseRcpt
	}
	return PhaseData
}

// readOne reads the oldest pending reply. It flushes first when the
// reply's command is still in the buffer, or when the reply has not
// arrived yet and whole transactions wait in the buffer: they would
// otherwise wait a round trip for nothing. A reply already received is
// read without a flush, and a half-built transaction is not flushed for
// it, so a full window does not cut the next group into a write per
// command. A 421 goes to its command like any reply, and then breaks the
// pipe; a transaction that had not failed before fails with it, as an
// error that wraps ErrClosed.
func (p *pipe) readOne() {
	waits := !p.c.wire.ReplyBuffered() // the reply has not arrived whole
	flush := p.pending[0].end > p.c.out.sent || (waits && p.whole > p.c.out.sent)
	if p.batch && waits && !flush && p.c.out.sent == p.c.sentAtRead {
		// Replies still to come, and nothing sent since the last one for
		// an ACK to ride on. Postfix answers a batch in pieces (it sends
		// what it has before it waits on its queue for a message) with
		// Nagle's algorithm on, so its next piece waits for that ACK: ask
		// for it now rather than after the delayed-ACK time (40 ms). A
		// lone Send does not ask: Postfix answers it in one piece, and an
		// immediate ACK costs a packet.
		quickAck(p.c.nc)
	}
	r, err := p.c.await(p.ctx, PhaseData, time.Now(), p.c.t.opts.DataTimeout, ErrCommandTimeout, flush)
	if r != nil {
		a := p.pending[0]
		p.pending = p.pending[1:]
		failed := a.tx.err != nil
		a.onReply(r)
		if err != nil && !failed {
			a.tx.err = p.c.replyError(a.phase, r, ErrClosed)
		}
	}
	p.err = err
}

// drain reads every pending reply.
func (p *pipe) drain() {
	for p.err == nil && len(p.pending) > 0 {
		p.readOne()
	}
	p.pending = nil
}

// queue writes one whole transaction: RSET when asked or needed, MAIL, every
// RCPT and the BDAT chunks.
func (p *pipe) queue(tx *transaction, reset bool) error {
	c := p.c
	if reset || c.needReset {
		c.needReset = false
		err := p.send(tx, func(r *Reply) {
			if r.Code != 250 && tx.err == nil {
				tx.err = c.replyError(PhaseReset, r, nil)
			}
		}, nil, false, "RSET")
		if err != nil {
			return err
		}
	}
	err := p.send(tx, func(r *Reply) {
		if r.Code/100 != 2 && tx.err == nil {
			tx.err = c.replyError(PhaseMail, r, nil)
		}
	}, nil, false, "MAIL", tx.mail...)
	if err != nil {
		return err
	}
	for i, args := range tx.rcpts {
		err := p.send(tx, func(r *Reply) {
			tx.result.Recipients[i] = RecipientResult{Address: tx.env.To[i], Reply: *r}
		}, nil, false, "RCPT", args...)
		if err != nil {
			return err
		}
	}
	tx.startChunks()
	for {
		data, last, err := tx.chunks.next()
		if err != nil {
			// The message could not be read. Every command sent so far is
			// complete, so read the replies (earlier messages learn their
			// fate), then abandon the connection rather than let a
			// truncated message be delivered.
			p.drain()
			c.nc.Close()
			c.err = &Error{Phase: PhaseData, Addr: c.t.addr, Err: readError(err)}
			p.err = c.err
			tx.err = c.err
			return p.err
		}
		args := make([]string, 1, 2)
		args[0] = strconv.Itoa(len(data))
		if last {
			args = append(args, "LAST")
		}
		err = p.send(tx, func(r *Reply) {
			if last {
				tx.ended = true
				if tx.err == nil {
					if tx.err = tx.allRefused(); tx.err == nil {
						tx.err = tx.final(r)
					}
				}
				c.needReset = tx.err != nil
			} else if r.Code/100 != 2 && tx.err == nil {
				tx.err = c.replyError(PhaseData, r, nil)
			}
		}, data, last, "BDAT", args...)
		if err == nil && last {
			tx.endAt = c.queued()
			p.whole = tx.endAt
		}
		if err != nil || last {
			return err
		}
	}
}

// notSent returns a copy of the error of a broken connection for a
// transaction nothing of which was written: it was not delivered.
func notSent(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	cp := *e
	cp.unanswered = true
	return &cp
}
