package queueview

import "github.com/smtpkit/smtpkit/outbox"

// Run is what became of the messages of one run of an outbox, as the
// commands show it in JSON.
type Run struct {
	Server    string   `json:"server"`
	Due       int      `json:"due"`
	Delivered []*Entry `json:"delivered"`
	Deferred  []*Entry `json:"deferred"`
	Failed    []*Entry `json:"failed"`
	InDoubt   int64    `json:"in_doubt"`
	Left      int      `json:"left"`
}

// Ended files each entry that left the outbox during the run: in Failed
// when a recipient failed for good, else in Delivered.
func (r *Run) Ended(entries []outbox.Entry) {
	for i := range entries {
		j := NewEntry(&entries[i])
		if len(entries[i].Failed()) > 0 {
			r.Failed = append(r.Failed, j)
		} else {
			r.Delivered = append(r.Delivered, j)
		}
	}
}

// Queued files in Deferred each entry still queued after the run that
// has more attempts than attempts held for it before (a new entry: any
// attempt), and sets Left to the entries still queued.
func (r *Run) Queued(entries []outbox.Entry, attempts map[string]int) {
	for i, e := range entries {
		if n, ok := attempts[e.ID]; e.Attempts > n || !ok && e.Attempts > 0 {
			r.Deferred = append(r.Deferred, NewEntry(&entries[i]))
		}
	}
	r.Left = len(entries)
}

// AnyDelivered reports whether the run delivered a message to any
// recipient: a whole message, or a part of one that failed or waits.
func (r *Run) AnyDelivered() bool {
	if len(r.Delivered) > 0 {
		return true
	}
	for _, list := range [][]*Entry{r.Failed, r.Deferred} {
		for _, e := range list {
			if e.count(outbox.Delivered) > 0 {
				return true
			}
		}
	}
	return false
}

// count returns how many recipients of e have the status s.
func (e *Entry) count(s outbox.Status) int {
	n := 0
	for _, rc := range e.Recipients {
		if rc.Status == string(s) {
			n++
		}
	}
	return n
}
