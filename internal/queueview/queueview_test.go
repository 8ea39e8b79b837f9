package queueview

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// now is the moment the tests render at.
var now = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// sample is an entry attempted twice: one recipient delivered, one refused
// for good with a two-line reply, one still pending with a reason.
func sample() outbox.Entry {
	return outbox.Entry{
		ID:          "0189f3c2a4b5d6e7a1b2c3d4",
		Envelope:    smtpkit.Envelope{From: "robot@example.com", To: []string{"a@example.org", "b@example.org", "c@example.org"}},
		Size:        2560,
		Created:     now.Add(-90 * time.Second).In(time.FixedZone("CET", 3600)),
		Attempts:    2,
		NextAttempt: now.Add(5 * time.Minute),
		LastError:   `451 4.3.0 "try again later"`,
		Doubts:      1,
		Recipients: []outbox.Recipient{
			{Address: "a@example.org", Status: outbox.Delivered, Reply: smtpkit.Reply{Code: 250, Enhanced: [3]int{2, 0, 0}, Lines: []string{"OK"}}},
			{Address: "b@example.org", Status: outbox.Failed, Reply: smtpkit.Reply{Code: 550, Enhanced: [3]int{5, 1, 1}, Lines: []string{"no such user", "try another"}}},
			{Address: "c@example.org", Status: outbox.Pending, Reason: "the connection broke"},
		},
	}
}

func TestEntryJSON(t *testing.T) {
	e := sample()
	raw, err := json.Marshal(NewEntry(&e))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0189f3c2a4b5d6e7a1b2c3d4","from":"robot@example.com",` +
		`"to":["a@example.org","b@example.org","c@example.org"],"pending":["c@example.org"],"size":2560,` +
		`"created":"2025-03-04T09:58:30Z","attempts":2,"next_attempt":"2025-03-04T10:05:00Z",` +
		`"last_error":"451 4.3.0 \"try again later\"","in_doubt":1,"recipients":[` +
		`{"address":"a@example.org","status":"delivered","reply":{"code":250,"enhanced":"2.0.0","text":"OK"}},` +
		`{"address":"b@example.org","status":"failed","reply":{"code":550,"enhanced":"5.1.1","text":"no such user\ntry another"}},` +
		`{"address":"c@example.org","status":"pending","reason":"the connection broke"}]}`
	if string(raw) != want {
		t.Errorf("the JSON of an entry:\n got %s\nwant %s", raw, want)
	}

	// No recipient pending, held by a runner: the lists stay lists, being_sent shows.
	e = outbox.Entry{ID: "x", Leased: true, Recipients: []outbox.Recipient{{Address: "a@example.org", Status: outbox.Delivered}}}
	raw, _ = json.Marshal(NewEntry(&e))
	for _, w := range []string{`"to":null`, `"pending":[]`, `"being_sent":true`, `"recipients":[{"address":"a@example.org","status":"delivered"}]`} {
		if !strings.Contains(string(raw), w) {
			t.Errorf("the JSON %s lacks %s", raw, w)
		}
	}
	for _, no := range []string{`"last_error"`, `"in_doubt"`, `"header"`, `"reply"`, `"reason"`} {
		if strings.Contains(string(raw), no) {
			t.Errorf("the JSON %s has %s, empty", raw, no)
		}
	}
}

func TestReply(t *testing.T) {
	if r := NewReply(smtpkit.Reply{}); r != nil {
		t.Errorf("no reply gave %+v, want nil", r)
	}
	r := NewReply(smtpkit.Reply{Code: 421, Lines: []string{"closing"}})
	if r.Enhanced != "" || r.Line() != "421 closing" {
		t.Errorf("a reply without an enhanced code: %+v, %q", r, r.Line())
	}
	for _, c := range []struct {
		code           int
		enhanced, text string
		want           string
	}{
		{550, "5.1.1", "no such user", "550 5.1.1 no such user"},
		{550, "", "a\nb\nc", "550 a / b / c"},
		{554, "5.7.1", "", "554 5.7.1"},
		{250, "", "", "250"},
	} {
		if got := ReplyLine(c.code, c.enhanced, c.text); got != c.want {
			t.Errorf("ReplyLine(%d, %q, %q) = %q, want %q", c.code, c.enhanced, c.text, got, c.want)
		}
	}
	rc := Recipient{Reason: "given up on after 5 days"}
	if rc.Why() != "given up on after 5 days" {
		t.Errorf("Why without a reply: %q", rc.Why())
	}
	rc.Reply = &Reply{Code: 550, Enhanced: "5.1.1", Text: "gone"}
	if rc.Why() != "550 5.1.1 gone" {
		t.Errorf("Why with a reply: %q", rc.Why())
	}
}

func TestWords(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 1023: "1023 bytes", 1024: "1 KiB",
		2560: "2.5 KiB", 10 << 20: "10 MiB", 3 << 40: "3 TiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Ago(now.Add(-(90*time.Second + 400*time.Millisecond)), now); got != "1m30s ago" {
		t.Errorf("Ago = %q", got)
	}
	e := &Entry{NextAttempt: now.Add(time.Hour + 1500*time.Millisecond)}
	if got, want := e.Next(now), e.NextAttempt.Local().Format(time.DateTime)+" (in 1h0m2s)"; got != want {
		t.Errorf("Next later = %q, want %q", got, want)
	}
	if e.NextAttempt = now; e.Next(now) != "due now" {
		t.Errorf("Next at now = %q", e.Next(now))
	}
	if e.BeingSent = true; e.Next(now) != "being sent now" {
		t.Errorf("Next being sent = %q", e.Next(now))
	}
}

func TestWriteLine(t *testing.T) {
	e := sample()
	var b bytes.Buffer
	WriteLine(&b, NewEntry(&e), now)
	want := "0189f3c2a4b5d6e7a1b2c3d4  2.5 KiB, queued 1m30s ago, 2 attempt(s), next: " +
		now.Add(5*time.Minute).Local().Format(time.DateTime) + " (in 5m0s)\n" +
		"  from <robot@example.com> to c@example.org\n" +
		"  last: 451 4.3.0 \"try again later\"\n"
	if b.String() != want {
		t.Errorf("the list line:\n got %q\nwant %q", b.String(), want)
	}

	b.Reset()
	WriteLine(&b, &Entry{ID: "y", Size: 1, Created: now, NextAttempt: now, Pending: []string{"a@example.org", "b@example.org"}}, now)
	if want := "y  1 byte, queued 0s ago, 0 attempt(s), next: due now\n  from <> to a@example.org, b@example.org\n"; b.String() != want {
		t.Errorf("the list line of a new entry:\n got %q\nwant %q", b.String(), want)
	}
}

func TestWriteShow(t *testing.T) {
	e := sample()
	ej := NewEntry(&e)
	ej.Header = ReadHeader(strings.NewReader("From: robot@example.com\r\nSubject: hi\r\n\r\nbody\r\n"))
	var b bytes.Buffer
	WriteShow(&b, ej, "/var/spool/smtpkit/work", now)
	want := "ID:           0189f3c2a4b5d6e7a1b2c3d4\n" +
		"Queue:        /var/spool/smtpkit/work\n" +
		"From:         <robot@example.com>\n" +
		"Size:         2.5 KiB\n" +
		"Queued:       " + now.Add(-90*time.Second).Local().Format(time.DateTime) + " (1m30s ago)\n" +
		"Attempts:     2, 1 in doubt (the connection broke after the whole message: it may have been delivered)\n" +
		"Next attempt: " + now.Add(5*time.Minute).Local().Format(time.DateTime) + " (in 5m0s)\n" +
		"Last error:   451 4.3.0 \"try again later\"\n" +
		"Recipients:\n" +
		"  delivered  a@example.org  250 2.0.0 OK\n" +
		"  failed     b@example.org  550 5.1.1 no such user / try another\n" +
		"  pending    c@example.org  the connection broke\n" +
		"Header:\n" +
		"  | From: robot@example.com\n" +
		"  | Subject: hi\n"
	if b.String() != want {
		t.Errorf("the show page:\n got %s\nwant %s", b.String(), want)
	}

	// Without a queue to name, nor a header, nor a failure.
	b.Reset()
	WriteShow(&b, &Entry{ID: "z", From: "a@example.com", Size: 10, Created: now, NextAttempt: now, BeingSent: true}, "", now)
	want = "ID:           z\nFrom:         <a@example.com>\nSize:         10 bytes\n" +
		"Queued:       " + now.Local().Format(time.DateTime) + " (0s ago)\n" +
		"Attempts:     0\nNext attempt: being sent now\nRecipients:\n"
	if b.String() != want {
		t.Errorf("the show page of a bare entry:\n got %s\nwant %s", b.String(), want)
	}
}

func TestReadHeader(t *testing.T) {
	for in, want := range map[string]string{
		"Subject: a\r\nTo: b\r\n\r\nbody\r\n": "Subject: a\r\nTo: b\r\n",
		"Subject: a\n\nbody\n":                "Subject: a\n",
		"Subject: no body":                    "Subject: no body",
		"\r\nbody\r\n":                        "",
		"":                                    "",
	} {
		if got := ReadHeader(strings.NewReader(in)); got != want {
			t.Errorf("ReadHeader(%q) = %q, want %q", in, got, want)
		}
	}
	long := "X-Long: " + strings.Repeat("a", 100<<10) + "\r\n\r\nbody"
	if got := ReadHeader(strings.NewReader(long)); len(got) != 64<<10 || strings.Contains(got, "body") {
		t.Errorf("a header longer than 64 KiB gave %d bytes", len(got))
	}
}

func TestRun(t *testing.T) {
	delivered := outbox.Entry{ID: "d1", Recipients: []outbox.Recipient{
		{Address: "a@example.org", Status: outbox.Delivered}, {Address: "b@example.org", Status: outbox.Delivered}}}
	failed := sample()
	failed.ID = "f1"
	failed.Recipients[2].Status, failed.Recipients[2].Reason = outbox.Failed, "given up on after 5 days"
	deferred := outbox.Entry{ID: "q1", Attempts: 3, NextAttempt: now.Add(time.Minute), LastError: "451 4.2.0 busy",
		Recipients: []outbox.Recipient{{Address: "c@example.org", Status: outbox.Pending}}}
	untouched := outbox.Entry{ID: "q2", Attempts: 1, Recipients: []outbox.Recipient{{Address: "e@example.org", Status: outbox.Pending}}}
	fresh := outbox.Entry{ID: "q3", Attempts: 1, Recipients: []outbox.Recipient{{Address: "f@example.org", Status: outbox.Pending}}}

	r := Run{Server: "mx.example.org:587", Due: 4, Delivered: []*Entry{}, Deferred: []*Entry{}, Failed: []*Entry{}, InDoubt: 1}
	r.Ended([]outbox.Entry{delivered, failed})
	r.Queued([]outbox.Entry{deferred, untouched, fresh}, map[string]int{"d1": 0, "f1": 1, "q1": 2, "q2": 1})
	if len(r.Delivered) != 1 || r.Delivered[0].ID != "d1" || len(r.Failed) != 1 || r.Failed[0].ID != "f1" ||
		len(r.Deferred) != 2 || r.Deferred[0].ID != "q1" || r.Deferred[1].ID != "q3" || r.Left != 3 {
		t.Fatalf("the run filed: %+v", r)
	}
	if !r.AnyDelivered() {
		t.Error("AnyDelivered with a message delivered says no")
	}

	var b bytes.Buffer
	WriteRun(&b, &r, "outbox", now)
	want := "Delivered:    1 message(s), for 2 recipient(s)\n" +
		"Deferred:     2 message(s), for 2 recipient(s), still queued:\n" +
		"  q1  451 4.2.0 busy (next: " + now.Add(time.Minute).Local().Format(time.DateTime) + " (in 1m0s))\n" +
		"  q3   (next: due now)\n" +
		"Failed:       1 message(s), for 2 recipient(s), removed from the outbox:\n" +
		"  f1  b@example.org: 550 5.1.1 no such user / try another\n" +
		"  f1  c@example.org: given up on after 5 days\n" +
		"In doubt:     1 (the connection broke after the whole message and before the reply: it may have been delivered, and goes again)\n" +
		"Left:         3 message(s) in the outbox\n"
	if b.String() != want {
		t.Errorf("the run summary:\n got %s\nwant %s", b.String(), want)
	}

	raw, err := json.Marshal(struct {
		Command string `json:"command"`
		Run
	}{"run", r})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`{"command":"run","server":"mx.example.org:587","due":4,"delivered":[{"id":"d1"`,
		`"deferred":[{"id":"q1"`, `"failed":[{"id":"f1"`, `"in_doubt":1,"left":3}`} {
		if !strings.Contains(string(raw), w) {
			t.Errorf("the JSON of a run lacks %s:\n%s", w, raw)
		}
	}
}

func TestRunNothing(t *testing.T) {
	// Only a part of a failed message went: that is a delivery; none at all is not.
	part := sample()
	r := Run{}
	r.Ended([]outbox.Entry{part})
	if len(r.Failed) != 1 || !r.AnyDelivered() {
		t.Errorf("a message delivered in part: %+v, AnyDelivered %v", r, r.AnyDelivered())
	}
	none := outbox.Entry{ID: "n", Recipients: []outbox.Recipient{{Address: "a@example.org", Status: outbox.Failed}}}
	r = Run{}
	r.Ended([]outbox.Entry{none})
	r.Queued(nil, nil)
	if r.AnyDelivered() || r.Left != 0 || len(r.Deferred) != 0 {
		t.Errorf("a message refused for good: %+v", r)
	}
	var b bytes.Buffer
	WriteRun(&b, &Run{Left: 2}, "queue", now)
	if want := "Delivered:    0 message(s), for 0 recipient(s)\nLeft:         2 message(s) in the queue\n"; b.String() != want {
		t.Errorf("an empty run:\n got %q\nwant %q", b.String(), want)
	}
}
