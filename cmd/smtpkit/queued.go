package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/proxy"
)

// How a command sends a message it may queue (send --queue, sendmail).
//
// One message (a file, standard input, a composed message) is enqueued
// first and then sent at once, from the spool, under the entry's lock:
// Spool.Enqueue returns only once the message and its envelope are synced
// to disk, so from the moment it returns a crash at any point (kill -9 in
// the middle of the data included) loses nothing, and "queued as ID" is
// true when it is said. Standard input can be read once only, so it could
// not be kept for later once an attempt had read it; and a runner of the
// same spool (queue run, sendmail -q30m) cannot send the entry while this
// attempt holds its lock, so it never goes twice at the same time. The
// first attempt is made here rather than by an outbox.Runner because the
// command needs the attempt's own error: its phase sets the exit code, and
// the command line is stricter than a runner about what may wait (a
// refused login or a certificate that does not verify is reported, not
// queued). The outcome is recorded with the Store's methods, recipient by
// recipient, as a runner records it, so queue run goes on from there.
//
// The messages of send --dir and --mbox are files, which can be read
// again: they are sent straight away over a Pool, and only those that
// failed transiently are enqueued afterwards (see queueBulk). Enqueueing
// thousands of messages before sending them would cost a sync each, and
// until one is queued its file is still where it was.

// transient reports whether err is a failure the command line queues: one
// the server or the network may get over by itself. Those are 4xx
// replies (421 included), failed connections, connections that broke, and
// time limits, and an interruption (the entry waits). Not transient: 5xx
// replies, a name that does not resolve, TLS that is missing or does not
// verify, a login refused for good, an invalid setting or message, and
// ErrUnconfirmed, which may have been delivered: queueing it would send a
// second copy.
func transient(err error) bool {
	if err == nil || errors.Is(err, smtpkit.ErrUnconfirmed) {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return true
	}
	var e *smtpkit.Error
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case e.Temporary():
		return true
	case e.Code != 0:
		return false
	case errors.Is(err, smtpkit.ErrInvalidOptions), errors.Is(err, smtpkit.ErrInvalidArgument),
		errors.Is(err, smtpkit.ErrNotSupported), errors.Is(err, smtpkit.ErrMessageTooLarge),
		errors.Is(err, smtpkit.ErrProtocol), errors.Is(err, smtpkit.ErrTLSNotOffered), errors.Is(err, smtpkit.ErrTLSRefused):
		return false
	}
	switch e.Phase {
	case smtpkit.PhaseConnect:
		var dns *net.DNSError
		if errors.As(err, &dns) && dns.IsNotFound {
			return false
		}
		return !errors.Is(err, proxy.ErrAuthRequired) && !errors.Is(err, proxy.ErrAuthFailed) &&
			!errors.Is(err, proxy.ErrInvalidArgument)
	case smtpkit.PhaseTLS, smtpkit.PhaseSTARTTLS, smtpkit.PhaseAuth:
		return brokenConnection(err) // not a certificate, not a policy
	}
	return true // greeting, EHLO, the transaction: no reply, the connection broke or a time limit passed
}

// brokenConnection reports whether err is the network's failure: the
// connection closed, reset or timed out.
func brokenConnection(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return true
	case errors.Is(err, smtpkit.ErrClosed), errors.Is(err, smtpkit.ErrCommandTimeout),
		errors.Is(err, smtpkit.ErrGreetingTimeout), errors.Is(err, smtpkit.ErrOperationTimeout),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return true
	}
	return false
}

// judged is what one attempt did for each recipient of a message.
type judged struct {
	status  []outbox.Status // Delivered, Failed, or Pending for a later attempt
	replies []smtpkit.Reply // the server's last word about each
	reasons []string        // why, when the reply does not say
	// doubt says the connection broke after the end of the data and
	// before the verdict (ErrUnconfirmed): the message may have been
	// delivered, and nothing is kept for later.
	doubt bool
}

// with returns the indexes of the recipients of status s.
func (j judged) with(s outbox.Status) []int {
	var out []int
	for i, st := range j.status {
		if st == s {
			out = append(out, i)
		}
	}
	return out
}

// judge reads the outcome of one attempt at n recipients: accepted at RCPT
// and at the end of the data, delivered; a 5xx about a recipient, or a
// failure the command line does not queue, failed; a 4xx about a
// recipient, or a transient failure, pending. The same reading as an
// outbox.Runner's, but for what transient excludes.
func judge(n int, res *smtpkit.Result, err error) judged {
	j := judged{status: make([]outbox.Status, n), replies: make([]smtpkit.Reply, n), reasons: make([]string, n)}
	rcpt := func(i int) smtpkit.Reply {
		if res != nil && i < len(res.Recipients) {
			return res.Recipients[i].Reply
		}
		return smtpkit.Reply{}
	}
	if errors.Is(err, smtpkit.ErrUnconfirmed) {
		j.doubt = true
	}
	var whole smtpkit.Reply // the reply that ended the attempt, when one did
	var e *smtpkit.Error
	if errors.As(err, &e) && e.Code != 0 {
		whole = smtpkit.Reply{Code: e.Code, Enhanced: e.Enhanced, Lines: strings.Split(e.Message, "\n")}
	}
	keep := transient(err)
	transaction := e != nil && (e.Phase == smtpkit.PhaseMail || e.Phase == smtpkit.PhaseRcpt ||
		e.Phase == smtpkit.PhaseData || e.Phase == smtpkit.PhaseReset)
	for i := range n {
		r := rcpt(i)
		switch {
		case err == nil && r.Code/100 == 2:
			j.status[i], j.replies[i] = outbox.Delivered, res.Reply
		case (err == nil || transaction) && r.Code/100 == 5: // refused for good at RCPT
			j.status[i], j.replies[i] = outbox.Failed, r
		case err == nil, transaction && r.Code/100 == 4: // refused for now at RCPT
			j.status[i], j.replies[i] = outbox.Pending, r
		case keep:
			j.status[i], j.replies[i], j.reasons[i] = outbox.Pending, whole, oneLine(describe(err))
		default:
			j.status[i], j.replies[i], j.reasons[i] = outbox.Failed, whole, oneLine(describe(err))
		}
	}
	return j
}

// why says in one line why the recipients at idx were left for later:
// the server's reply about each, or the failure of the attempt.
func (j judged) why(to []string, idx []int, err error) string {
	var parts []string
	for _, i := range idx {
		if (j.reasons[i] != "" || j.replies[i].Code == 0) && err != nil {
			return oneLine(describe(err))
		}
		parts = append(parts, to[i]+": "+j.replies[i].String())
	}
	return oneLine(strings.Join(parts, "; "))
}

// oneLine joins the lines of s with " / ".
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", " / ")), " ")
}

// queuedJSON says that a message, or some of its recipients, waits in the queue.
type queuedJSON struct {
	ID         string   `json:"id"`
	Recipients []string `json:"recipients"`
	Reason     string   `json:"reason"`
	Spool      string   `json:"spool"`
}

// note tells standard error that a message waits in the queue.
func (q *queueing) note(w io.Writer, qj *queuedJSON) {
	fmt.Fprintf(w, "%s: queued as %s: %s; %s sends it\n", q.prog, qj.ID, qj.Reason, q.hint)
}

// attempt is the outcome of sending one message through the queue.
type attempt struct {
	res    *smtpkit.Result
	err    error  // what Dial or Send returned
	conn   uint64 // the connection's ID; 0 when none was made
	queued *queuedJSON
	judged judged
}

// countingReader counts what was read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// send enqueues msg, then makes the first attempt at once from the spool
// (see the top of this file). When the queue cannot take the message
// before a byte of it was read (there is no spool, or it cannot be created
// or written),
// the message is sent without the queue, with a warning on warn. The
// error is the queue's alone: the attempt's is in the attempt.
func (q *queueing) send(ctx context.Context, s *session, env *smtpkit.Envelope, msg io.Reader, warn io.Writer) (*attempt, error) {
	spool, err := q.open()
	var id string
	if err == nil {
		defer spool.Close()
		cr := &countingReader{r: msg}
		id, err = spool.Enqueue(ctx, env, cr)
		if err != nil && cr.n > 0 {
			return nil, queueError{fmt.Errorf("nothing was sent: %w", err)}
		}
	}
	if err != nil {
		fmt.Fprintf(warn, "%s: warning: the message cannot be queued, so it is sent without the queue: %s\n", q.prog, oneLine(describe(err)))
		a := sendDirect(ctx, s, env, msg)
		a.judged = judge(len(env.To), a.res, a.err)
		return a, nil
	}
	e, err := claimEntry(ctx, spool, id)
	if err != nil || e == nil {
		// A runner of this spool took it first, or the spool failed: it
		// is queued all the same.
		why := "a queue runner is sending it"
		if err != nil {
			why = oneLine(describe(err))
		}
		return q.untried(id, env, why), nil
	}
	body, err := spool.Open(ctx, id)
	if err != nil {
		spool.Release(ctx, e)
		return q.untried(id, env, oneLine(describe(err))), nil
	}
	sendEnv := e.Envelope
	if sendEnv.Size == 0 {
		sendEnv.Size = e.Size
	}
	a := sendDirect(ctx, s, &sendEnv, body)
	body.Close()
	a.judged = judge(len(e.Recipients), a.res, a.err)
	q.record(ctx, spool, e, a, warn)
	return a, nil
}

// untried is the outcome of a message queued and not attempted.
func (q *queueing) untried(id string, env *smtpkit.Envelope, why string) *attempt {
	a := &attempt{queued: &queuedJSON{ID: id, Recipients: env.To, Reason: why, Spool: q.dir}}
	a.judged = judge(len(env.To), nil, nil)
	return a
}

// sendDirect sends one message on a new connection.
func sendDirect(ctx context.Context, s *session, env *smtpkit.Envelope, msg io.Reader) *attempt {
	a := &attempt{}
	c, err := s.dialer().Dial(ctx, s.addr())
	if err != nil {
		a.err = err
		return a
	}
	a.conn = c.ConnID()
	a.res, a.err = c.Send(ctx, env, msg)
	c.Quit(ctx)
	return a
}

// claimEntry takes the lock of the entry id, which this process has just
// enqueued: a new Spool hands out first what it enqueued itself. Another's
// entries that come first are released untouched; nil means another
// process holds the entry.
func claimEntry(ctx context.Context, spool *outbox.Spool, id string) (*outbox.Entry, error) {
	seen := map[string]bool{}
	for {
		e, _, err := spool.Claim(ctx, outbox.DefaultLease)
		if err != nil || e == nil {
			return nil, err
		}
		if e.ID == id {
			return e, nil
		}
		spool.Release(ctx, e)
		if seen[e.ID] {
			return nil, nil
		}
		seen[e.ID] = true
	}
}

// record writes the outcome of the first attempt at e, as a Runner would:
// the recipients delivered or failed for good are never sent to again;
// those pending wait for the next attempt, after outbox.DefaultMinDelay
// less up to half (the Runner's first backoff), or at once when the
// attempt was interrupted. A message in doubt, or with no recipient left,
// leaves the spool.
func (q *queueing) record(ctx context.Context, spool *outbox.Spool, e *outbox.Entry, a *attempt, warn io.Writer) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordLimit)
	defer cancel()
	j := a.judged
	pending := j.with(outbox.Pending)
	if j.doubt || len(pending) == 0 {
		if err := spool.Finish(bg, e); err != nil {
			fmt.Fprintf(warn, "%s: error: the attempt is over, but its entry %s could not be removed from the queue, "+
				"so a queue run would send it again: delete it with smtpkit queue delete %s (%s)\n", q.prog, e.ID, e.ID, oneLine(describe(err)))
		}
		return
	}
	now := time.Now()
	e.Attempts++
	e.LastError = j.why(e.Envelope.To, pending, a.err)
	for i := range e.Recipients {
		e.Recipients[i].Status, e.Recipients[i].Reply, e.Recipients[i].Reason = j.status[i], j.replies[i], j.reasons[i]
	}
	e.NextAttempt = now
	if ctx.Err() == nil {
		d := outbox.DefaultMinDelay
		e.NextAttempt = now.Add(d - rand.N(d/2+1))
	}
	if err := spool.Update(bg, e); err != nil {
		fmt.Fprintf(warn, "%s: error: the outcome of the attempt could not be recorded in the queue (%s): "+
			"its next attempt sends to every recipient again\n", q.prog, oneLine(describe(err)))
	}
	spool.Release(bg, e)
	var to []string
	for _, i := range pending {
		to = append(to, e.Envelope.To[i])
	}
	a.queued = &queuedJSON{ID: e.ID, Recipients: to, Reason: e.LastError, Spool: q.dir}
}
