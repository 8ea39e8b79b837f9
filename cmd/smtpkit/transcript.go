package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// transcript turns the library's transcript ("C: ", "S: " and "* " lines)
// into swaks's markers:
//
//	 -> EHLO ...     a line the client sent in plaintext
//	<-  250 ...      a line the server sent in plaintext
//	 ~> / <~         the same once TLS is up on the connection
//	<** / <~*        a 4xx or 5xx reply
//	===              information, such as "TLS up"
//	***              an error
//
// The library's lines do not say which connection they belong to, so the
// TLS state is followed from the dialogue itself: a "* TLS up" line turns
// it on, and a 220 greeting that does not answer STARTTLS and does not
// follow a TLS handshake starts a new plaintext connection. That is exact
// for one connection at a time, which is what every Dial but Auto's race
// has, and the race only ever shows the lines of one of its connections
// (the other dies before a greeting). Connections of a Pool used at once
// share the state: their markers may be wrong, never their lines.
//
// It is safe for concurrent use, and passes whole lines on.
type transcript struct {
	mu      sync.Mutex
	w       io.Writer
	partial []byte

	tls         bool   // the current connection is protected by TLS
	justTLS     bool   // the last line was "* TLS up"
	lastCommand string // the verb of the last command sent
	inReply     bool   // the last server line announced more lines ("250-")
}

func newTranscript(w io.Writer) *transcript { return &transcript{w: w} }

// Write takes the library's lines.
func (t *transcript) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSuffix(string(t.partial[:i]), "\r")
		t.partial = t.partial[i+1:]
		fmt.Fprintln(t.w, t.convert(line))
	}
	return len(p), nil
}

// info writes a "===" line of the command's own.
func (t *transcript) info(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "=== "+format+"\n", args...)
}

// error writes a "***" line.
func (t *transcript) error(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(t.w, "*** %s\n", l)
	}
}

// convert returns the line with swaks's marker, and follows the TLS state.
func (t *transcript) convert(line string) string {
	switch {
	case strings.HasPrefix(line, "C: "):
		text := line[3:]
		t.justTLS, t.inReply = false, false
		verb, _, _ := strings.Cut(text, " ")
		t.lastCommand = strings.ToUpper(verb)
		if t.tls {
			return " ~> " + text
		}
		return " -> " + text
	case strings.HasPrefix(line, "S: "):
		text := line[3:]
		if !t.inReply && strings.HasPrefix(text, "220") && !t.justTLS && t.lastCommand != "STARTTLS" {
			t.tls = false // a greeting: a new plaintext connection
		}
		if strings.HasPrefix(text, "220") && t.lastCommand == "STARTTLS" {
			t.lastCommand = "" // answered; a later 220 is a greeting
		}
		t.justTLS = false
		t.inReply = len(text) > 3 && text[3] == '-'
		failed := text != "" && (text[0] == '4' || text[0] == '5')
		switch {
		case t.tls && failed:
			return "<~* " + text
		case t.tls:
			return "<~  " + text
		case failed:
			return "<** " + text
		}
		return "<-  " + text
	case strings.HasPrefix(line, "* "):
		text := line[2:]
		switch {
		case strings.HasPrefix(text, "TLS up"):
			t.tls, t.justTLS = true, true
		case strings.HasPrefix(text, "connecting to"), strings.Contains(text, "dialling again without TLS"):
			t.tls, t.justTLS, t.lastCommand = false, false, ""
		}
		return "=== " + text
	}
	return line
}
