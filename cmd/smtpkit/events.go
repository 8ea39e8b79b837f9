package main

import (
	"crypto/tls"
	"fmt"
	"sync"

	"github.com/smtpkit/smtpkit"
)

// eventLog keeps the library's events of a command, for the reports built
// from them (probe's, and the JSON of --json).
type eventLog struct {
	mu      sync.Mutex
	events  []smtpkit.Event
	timings bool // keep PhaseDone events too
}

// add keeps the events the reports read: what each connection is, not the
// dialogue, so a bulk send over many connections keeps little.
func (l *eventLog) add(e smtpkit.Event) {
	switch e.(type) {
	case smtpkit.ConnectStart, smtpkit.Greeted, smtpkit.TLSDone, smtpkit.Capable, smtpkit.LoginDone, smtpkit.SecurityChosen:
	case smtpkit.PhaseDone:
		if !l.timings {
			return
		}
	default:
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// snapshot returns the events so far.
func (l *eventLog) snapshot() []smtpkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]smtpkit.Event(nil), l.events...)
}

// connState is what the events say of one connection.
type connState struct {
	addr     string
	greeting smtpkit.Reply
	tls      *tls.ConnectionState
	implicit bool
	caps     smtpkit.Capabilities
	security smtpkit.Security // in use: implicit-tls, starttls or none
	login    string           // the mechanism of the login the server accepted
	// noTLS says the session went on in plaintext because the server
	// offered no STARTTLS (as SecurityChosen says).
	noTLS bool
}

// describeSecurity says how the connection is protected, such as "TLS 1.3 (starttls)".
func (st connState) describeSecurity() string {
	if st.tls != nil {
		return fmt.Sprintf("%s (%s)", tls.VersionName(st.tls.Version), st.security)
	}
	return "no TLS"
}

// conn returns what the events say of connection id.
func (l *eventLog) conn(id uint64) connState {
	st := connState{security: smtpkit.SecurityNone}
	for _, e := range l.snapshot() {
		if e.ConnID() != id {
			continue
		}
		switch e := e.(type) {
		case smtpkit.ConnectStart:
			st.addr = e.Addr
		case smtpkit.Greeted:
			st.greeting = e.Reply
		case smtpkit.TLSDone:
			if e.Err == nil {
				state := e.State
				st.tls, st.implicit = &state, e.Implicit
				st.security = smtpkit.SecurityStartTLS
				if e.Implicit {
					st.security = smtpkit.SecurityImplicitTLS
				}
			}
		case smtpkit.Capable:
			st.caps = e.Capabilities
		case smtpkit.LoginDone:
			if e.Err == nil {
				st.login = e.Mechanism
			}
		case smtpkit.SecurityChosen:
			st.noTLS = e.Security == smtpkit.SecurityNone && e.Reason == smtpkit.ReasonStartTLSMissing
		}
	}
	return st
}

// phases returns the PhaseDone events, in order.
func (l *eventLog) phases() []smtpkit.PhaseDone {
	var out []smtpkit.PhaseDone
	for _, e := range l.snapshot() {
		if p, ok := e.(smtpkit.PhaseDone); ok {
			out = append(out, p)
		}
	}
	return out
}
