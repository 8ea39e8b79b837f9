package smtpkit_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

// eventLog keeps the events a Trace receives; an attempt Auto abandoned
// may still send events after its Dial returned.
type eventLog struct {
	mu  sync.Mutex
	evs []smtpkit.Event
}

func (l *eventLog) trace(ev smtpkit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *eventLog) all() []smtpkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

// eventName names an event by its type and the field that tells it from
// its kin; PhaseDone, which comes after every phase, is "".
func eventName(ev smtpkit.Event) string {
	switch e := ev.(type) {
	case smtpkit.ConnectStart:
		return "ConnectStart"
	case smtpkit.ConnectDone:
		return "ConnectDone"
	case smtpkit.ReplyRead:
		return fmt.Sprintf("ReplyRead %d", e.Reply.Code)
	case smtpkit.Greeted:
		return "Greeted"
	case smtpkit.CommandSent:
		verb, _, _ := strings.Cut(e.Line, " ")
		return "CommandSent " + verb
	case smtpkit.Capable:
		return fmt.Sprintf("Capable tls=%v", e.TLS)
	case smtpkit.SecurityChosen:
		return "SecurityChosen " + string(e.Reason)
	case smtpkit.TLSDone:
		return "TLSDone"
	case smtpkit.LoginDone:
		return "LoginDone " + e.Mechanism
	case smtpkit.DataSent:
		return "DataSent"
	case smtpkit.TransactionDone:
		return "TransactionDone"
	}
	return ""
}

// TestEventsOfASession: a STARTTLS session with a login and a message
// tells its story in typed events, in order, each naming the connection,
// with the secret nowhere. Typed events did not exist at dcaafbe: Trace
// had phases, and the rest was transcript prose.
func TestEventsOfASession(t *testing.T) {
	srv := authServer(t, smtptest.StartTLS, sasl.Plain)
	var log eventLog
	var transcript lineWriter
	opts := srv.ClientOptions()
	opts.Auth = &smtpkit.Auth{Username: testUser, Password: testPassword}
	opts.Trace = log.trace
	opts.Transcript = &transcript
	c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	sendOne(t, c)
	if err := c.Quit(testContext(t)); err != nil {
		t.Fatal(err)
	}

	evs := log.all()
	var names []string
	for _, ev := range evs {
		if ev.ConnID() != c.ConnID() {
			t.Errorf("%T names connection %d, the client is %d", ev, ev.ConnID(), c.ConnID())
		}
		if n := eventName(ev); n != "" {
			names = append(names, n)
		}
	}
	session := []string{
		"ConnectStart", "ConnectDone", "ReplyRead 220", "Greeted",
		"CommandSent EHLO", "ReplyRead 250", "Capable tls=false",
		"SecurityChosen starttls-offered", "CommandSent STARTTLS", "ReplyRead 220", "TLSDone",
		"CommandSent EHLO", "ReplyRead 250", "Capable tls=true",
		"CommandSent AUTH", "ReplyRead 235", "LoginDone PLAIN",
	}
	if len(names) < len(session) || !slices.Equal(names[:len(session)], session) {
		t.Fatalf("events:\n%s\nwant them to begin:\n%s", strings.Join(names, "\n"), strings.Join(session, "\n"))
	}
	rest := names[len(session):]
	next := 0
	for _, want := range []string{"CommandSent MAIL", "CommandSent RCPT", "TransactionDone", "CommandSent QUIT", "ReplyRead 221"} {
		i := slices.Index(rest[next:], want)
		if i < 0 {
			t.Fatalf("after the login, events %q lack %q in order", rest, want)
		}
		next += i + 1
	}

	secretIR := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
	for _, ev := range evs {
		if s := fmt.Sprintf("%+v", ev); strings.Contains(s, testPassword) || strings.Contains(s, secretIR) {
			t.Errorf("%T shows the secret: %s", ev, s)
		}
		switch e := ev.(type) {
		case smtpkit.SecurityChosen:
			if e.Asked != smtpkit.SecurityStartTLS || e.Security != smtpkit.SecurityStartTLS || e.Reason != smtpkit.ReasonStartTLSOffered {
				t.Errorf("SecurityChosen = %+v", e)
			}
		case smtpkit.TLSDone:
			if e.Err != nil || e.State.Version == 0 || e.Implicit || len(e.State.PeerCertificates) == 0 {
				t.Errorf("TLSDone = %+v, want a STARTTLS handshake with its state", e)
			}
		case smtpkit.CommandSent:
			if strings.HasPrefix(e.Line, "AUTH") {
				if !e.Redacted || e.Line != "AUTH PLAIN <redacted>" || !e.TLS {
					t.Errorf("CommandSent for AUTH = %+v, want %q redacted, over TLS", e, "AUTH PLAIN <redacted>")
				}
			} else if e.Redacted {
				t.Errorf("CommandSent %q marked redacted", e.Line)
			}
		case smtpkit.Capable:
			if e.TLS && len(e.Capabilities.AuthMechanisms()) == 0 {
				t.Errorf("Capable after TLS offers no AUTH: %q", e.Capabilities.Lines())
			}
		case smtpkit.LoginDone:
			if e.Err != nil || e.Next {
				t.Errorf("LoginDone = %+v", e)
			}
		case smtpkit.TransactionDone:
			if e.Err != nil || e.From != "alice@x.test" || e.Result == nil || e.Result.Reply.Code != 250 ||
				len(e.Result.Accepted()) != 1 {
				t.Errorf("TransactionDone = %+v, want the accepted message's result", e)
			}
		}
	}
	// Commands after the handshake are sent over TLS, the ones before it not.
	handshake := slices.IndexFunc(evs, func(ev smtpkit.Event) bool { _, ok := ev.(smtpkit.TLSDone); return ok })
	for i, ev := range evs {
		if e, ok := ev.(smtpkit.CommandSent); ok && e.TLS != (i > handshake) {
			t.Errorf("CommandSent %q has TLS %v, event %d of %d with the handshake at %d", e.Line, e.TLS, i, len(evs), handshake)
		}
	}

	tr := transcript.String()
	for _, want := range []string{"S: 220 ", "C: EHLO ", "C: STARTTLS", "* TLS up: TLS 1.3", "C: AUTH PLAIN <redacted>", "S: 235 ", "C: QUIT", "S: 221 "} {
		if !strings.Contains(tr, want) {
			t.Errorf("the transcript lacks %q:\n%s", want, tr)
		}
	}
	if strings.Contains(tr, testPassword) || strings.Contains(tr, secretIR) {
		t.Errorf("the transcript shows the secret:\n%s", tr)
	}
	for _, l := range strings.Split(strings.TrimSuffix(tr, "\n"), "\n") {
		if !strings.HasPrefix(l, "C: ") && !strings.HasPrefix(l, "S: ") && !strings.HasPrefix(l, "* ") {
			t.Errorf("transcript line %q is none of C:, S: or *", l)
		}
	}
}

// TestConnIDs: the connections of a Dialer are numbered from 1, each Dial
// its own number; under Auto's race the abandoned attempt's events carry
// another number than the winner's.
func TestConnIDs(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	d := srv.Dialer()
	var ids []uint64
	for range 2 {
		c, err := d.Dial(testContext(t), srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ConnID())
		c.Close()
	}
	if ids[0] != 1 || ids[1] != 2 {
		t.Errorf("ConnIDs of two Dials on one Dialer: %v, want [1 2]", ids)
	}

	var log eventLog
	auto := &smtpkit.Dialer{Options: smtpkit.Options{Security: smtpkit.SecurityTLSAuto,
		TLSConfig: smtptest.ClientTLSConfig(), Trace: log.trace}}
	c, err := auto.Dial(testContext(t), srv.Addr) // a port without convention: plaintext wait and TLS at once
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Security() != smtpkit.SecurityImplicitTLS {
		t.Fatalf("Security() = %s", c.Security())
	}
	starts := map[uint64]string{} // ID: Attempt
	byID := map[uint64][]string{}
	for _, ev := range log.all() {
		if e, ok := ev.(smtpkit.ConnectStart); ok {
			starts[e.ID] = e.Attempt
		}
		byID[ev.ConnID()] = append(byID[ev.ConnID()], eventName(ev))
	}
	if len(starts) != 2 || starts[c.ConnID()] != "implicit-tls" {
		t.Fatalf("connections started %v; want two, the winner %d the implicit-tls attempt", starts, c.ConnID())
	}
	for id, names := range byID {
		won := slices.Contains(names, "TLSDone") && slices.Contains(names, "Greeted") &&
			slices.Contains(names, "SecurityChosen tls-handshake") && slices.Contains(names, "Capable tls=true")
		if (id == c.ConnID()) != won {
			t.Errorf("connection %d (winner %d) has events %q", id, c.ConnID(), names)
		}
	}
}
