package main

import (
	"crypto/tls"
	"sync"

	"github.com/smtpkit/smtpkit"
)

// eventLog keeps the library's events of a command, for the reports built
// from them (probe's, and the JSON of --json).
type eventLog struct {
	mu     sync.Mutex
	events []smtpkit.Event
}

func (l *eventLog) add(e smtpkit.Event) {
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
