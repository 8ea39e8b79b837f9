package queueview

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/outbox"
)

// Size words a size in IEC units, such as "1023 bytes", "10 MiB" or "9.8 MiB".
func Size(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"}
	if n < 1024 {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[u]
}

// Ago says how long before now t was, to the second, such as "1m30s ago".
func Ago(t, now time.Time) string {
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// Next says when the entry goes next, seen at now: "being sent now",
// "due now", or the local time and how long until then.
func (e *Entry) Next(now time.Time) string {
	switch {
	case e.BeingSent:
		return "being sent now"
	case !e.NextAttempt.After(now):
		return "due now"
	}
	return fmt.Sprintf("%s (in %s)", e.NextAttempt.Local().Format(time.DateTime), e.NextAttempt.Sub(now).Round(time.Second))
}

// WriteLine prints the entry as a list shows it: its ID, size, age,
// attempts and next attempt, its sender and pending recipients, and its
// last failure when it has one.
func WriteLine(w io.Writer, e *Entry, now time.Time) {
	fmt.Fprintf(w, "%s  %s, queued %s, %d attempt(s), next: %s\n", e.ID, Size(e.Size),
		Ago(e.Created, now), e.Attempts, e.Next(now))
	fmt.Fprintf(w, "  from <%s> to %s\n", e.From, strings.Join(e.Pending, ", "))
	if e.LastError != "" {
		fmt.Fprintf(w, "  last: %s\n", e.LastError)
	}
}

// WriteShow prints the entry as show does: its envelope, attempts, each
// recipient with why it stands there, and its header; queue, when not
// empty, names where the entry waits.
func WriteShow(w io.Writer, e *Entry, queue string, now time.Time) {
	fmt.Fprintf(w, "ID:           %s\n", e.ID)
	if queue != "" {
		fmt.Fprintf(w, "Queue:        %s\n", queue)
	}
	fmt.Fprintf(w, "From:         <%s>\n", e.From)
	fmt.Fprintf(w, "Size:         %s\n", Size(e.Size))
	fmt.Fprintf(w, "Queued:       %s (%s)\n", e.Created.Local().Format(time.DateTime), Ago(e.Created, now))
	attempts := fmt.Sprint(e.Attempts)
	if e.InDoubt > 0 {
		attempts += fmt.Sprintf(", %d in doubt (the connection broke after the whole message: it may have been delivered)", e.InDoubt)
	}
	fmt.Fprintf(w, "Attempts:     %s\n", attempts)
	fmt.Fprintf(w, "Next attempt: %s\n", e.Next(now))
	if e.LastError != "" {
		fmt.Fprintf(w, "Last error:   %s\n", e.LastError)
	}
	fmt.Fprintln(w, "Recipients:")
	for _, r := range e.Recipients {
		fmt.Fprintf(w, "  %-9s  %s  %s\n", r.Status, r.Address, r.Why())
	}
	if e.Header != "" {
		fmt.Fprintln(w, "Header:")
		for _, l := range strings.Split(strings.TrimRight(e.Header, "\r\n"), "\n") {
			fmt.Fprintf(w, "  | %s\n", strings.TrimRight(l, "\r"))
		}
	}
}

// WriteRun prints what became of the messages of a run, from those
// delivered to those left; store names where they wait ("queue",
// "outbox").
func WriteRun(w io.Writer, r *Run, store string, now time.Time) {
	recipients := func(list []*Entry, s outbox.Status) int {
		n := 0
		for _, e := range list {
			n += e.count(s)
		}
		return n
	}
	fmt.Fprintf(w, "Delivered:    %d message(s), for %d recipient(s)\n", len(r.Delivered), recipients(r.Delivered, outbox.Delivered))
	if len(r.Deferred) > 0 {
		fmt.Fprintf(w, "Deferred:     %d message(s), for %d recipient(s), still queued:\n", len(r.Deferred), recipients(r.Deferred, outbox.Pending))
		for _, e := range r.Deferred {
			fmt.Fprintf(w, "  %s  %s (next: %s)\n", e.ID, e.LastError, e.Next(now))
		}
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(w, "Failed:       %d message(s), for %d recipient(s), removed from the %s:\n", len(r.Failed), recipients(r.Failed, outbox.Failed), store)
		for _, e := range r.Failed {
			for _, rc := range e.Recipients {
				if rc.Status == string(outbox.Failed) {
					fmt.Fprintf(w, "  %s  %s: %s\n", e.ID, rc.Address, rc.Why())
				}
			}
		}
	}
	if r.InDoubt > 0 {
		fmt.Fprintf(w, "In doubt:     %d (the connection broke after the whole message and before the reply: "+
			"it may have been delivered, and goes again)\n", r.InDoubt)
	}
	fmt.Fprintf(w, "Left:         %d message(s) in the %s\n", r.Left, store)
}
