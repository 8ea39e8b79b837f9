package outbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// maxBounceHeaders bounds the original headers a bounce quotes.
const maxBounceHeaders = 64 << 10

// wantsBounce reports whether the sender of e asked for, or did not
// decline, a notification of failure: never to the null sender (a bounce
// is never bounced), and only when a DSN request names FAILURE.
func wantsBounce(e *Entry) bool {
	if e.Envelope.From == "" {
		return false
	}
	d := e.Envelope.DSN
	if d == nil || len(d.Notify) == 0 {
		return true
	}
	for _, n := range d.Notify {
		if strings.EqualFold(n, "FAILURE") {
			return true
		}
	}
	return false
}

// hostname names this host in bounces.
func hostname() string {
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}

// oneLine makes s fit in a header field: no CR or LF.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// statusCode is the RFC 3463 status of a failed recipient for its DSN.
func statusCode(rc Recipient) string {
	en := rc.Reply.Enhanced
	switch {
	case en[0] == 4 || en[0] == 5:
		return fmt.Sprintf("%d.%d.%d", en[0], en[1], en[2])
	case rc.Reply.Code/100 == 5:
		return "5.0.0"
	case rc.Reply.Code/100 == 4 || rc.Reply.Code == 0 && strings.HasPrefix(rc.Reason, "given up"):
		return "4.4.7" // delivery time expired
	}
	return "5.0.0"
}

// bounceMessage composes the delivery status notification (RFC 3464) of
// e's failed recipients, as a stream: the original message, when the
// sender asked for all of it (RET=FULL), is read from the store as the
// notification is enqueued, never held in memory; otherwise its headers
// are quoted. done closes what the stream reads.
func (r *Runner) bounceMessage(ctx context.Context, e *Entry) (msg io.Reader, done func()) {
	host := hostname()
	from := r.BounceFrom
	if from == "" {
		from = "Mail Delivery System <MAILER-DAEMON@" + host + ">"
	}
	boundary := e.ID + "/" + host
	now := time.Now()
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("From: %s", oneLine(from))
	w("To: <%s>", e.Envelope.From)
	w("Subject: Undelivered Mail Returned to Sender")
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.bounce@%s>", e.ID, host)
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary)
	w("")
	w("This is a MIME-encapsulated message.")
	w("")
	w("--%s", boundary)
	w("Content-Description: Notification")
	w("Content-Type: text/plain; charset=utf-8")
	w("")
	w("This is the mail system at host %s.", host)
	w("")
	w("Your message could not be delivered to one or more recipients.")
	w("")
	for _, rc := range e.Failed() {
		w("<%s>: %s", rc.Address, oneLine(rc.why()))
	}
	w("")
	w("--%s", boundary)
	w("Content-Description: Delivery report")
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", host)
	if d := e.Envelope.DSN; d != nil && d.EnvelopeID != "" {
		w("Original-Envelope-Id: %s", oneLine(d.EnvelopeID))
	}
	w("Arrival-Date: %s", e.Created.Format(time.RFC1123Z))
	for _, rc := range e.Failed() {
		w("")
		w("Final-Recipient: rfc822; %s", rc.Address)
		if d := e.Envelope.DSN; d != nil && d.OriginalRecipients {
			w("Original-Recipient: rfc822; %s", rc.Address)
		}
		w("Action: failed")
		w("Status: %s", statusCode(rc))
		if rc.Reply.Code != 0 {
			w("Diagnostic-Code: smtp; %s", oneLine(rc.Reply.String()))
		}
		w("Last-Attempt-Date: %s", now.Format(time.RFC1123Z))
	}
	w("")
	w("--%s", boundary)
	full := e.Envelope.DSN != nil && strings.EqualFold(e.Envelope.DSN.Return, "FULL")
	orig, err := r.Store.Open(ctx, e.ID)
	if err != nil {
		w("Content-Type: text/plain; charset=utf-8")
		w("")
		w("(The original message could not be read: %s)", oneLine(err.Error()))
		w("")
		w("--%s--", boundary)
		return &b, func() {}
	}
	if full {
		w("Content-Description: Undelivered message")
		w("Content-Type: message/rfc822")
		w("")
		tail := "\r\n--" + boundary + "--\r\n"
		return io.MultiReader(&b, orig, strings.NewReader(tail)), func() { orig.Close() }
	}
	defer orig.Close()
	w("Content-Description: Undelivered message headers")
	w("Content-Type: text/rfc822-headers")
	w("")
	br := bufio.NewReader(io.LimitReader(orig, maxBounceHeaders))
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		w("%s", line)
		if err != nil {
			break
		}
	}
	w("")
	w("--%s--", boundary)
	return &b, func() {}
}
