package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/smtpkit/smtpkit"
)

// transcript prints the library's events swaks style:
//
//	 -> EHLO ...     a line the client sent in plaintext
//	<-  250 ...      a line the server sent in plaintext
//	 ~> / <~         the same once TLS is up on the connection
//	<** / <~*        a 4xx or 5xx reply
//	===              information, such as "TLS up"
//	***              an error
//
// Every event says whether its connection was protected by TLS, so the
// markers are right for each connection, however many a Pool runs at once.
// It is safe for concurrent use.
type transcript struct {
	mu sync.Mutex
	w  io.Writer
}

func newTranscript(w io.Writer) *transcript { return &transcript{w: w} }

// event prints one event of the library.
func (t *transcript) event(e smtpkit.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e := e.(type) {
	case smtpkit.ConnectStart:
		switch e.Attempt {
		case "implicit-tls":
			t.printf("=== Trying implicit TLS on a second connection to %s", e.Addr)
		case "plaintext":
			t.printf("=== The server answered TLS in plaintext; connecting again without TLS")
		}
		if e.Proxy != "" {
			t.printf("=== Connecting to %s through the proxy %s", e.Addr, e.Proxy)
		}
	case smtpkit.CommandSent:
		t.printf("%s %s", sentMarker(e.TLS), e.Line)
	case smtpkit.DataSent:
		if e.Chunk {
			t.printf("%s <%d bytes of message data>", sentMarker(e.TLS), e.Bytes)
		} else {
			t.printf("%s <message data, %d bytes>", sentMarker(e.TLS), e.Bytes)
			t.printf("%s .", sentMarker(e.TLS))
		}
	case smtpkit.ReplyRead:
		marker := "<-  "
		switch failed := e.Reply.Code >= 400; {
		case e.TLS && failed:
			marker = "<~* "
		case e.TLS:
			marker = "<~  "
		case failed:
			marker = "<** "
		}
		for _, l := range e.Lines {
			t.printf("%s%s", marker, l)
		}
	case smtpkit.TLSDone:
		if e.Err == nil {
			resumed := ""
			if e.State.DidResume {
				resumed = ", session resumed"
			}
			t.printf("=== TLS up: %s, %s, server certificate %s%s", tls.VersionName(e.State.Version),
				tls.CipherSuiteName(e.State.CipherSuite), leafSubject(e.State), resumed)
		}
	case smtpkit.SecurityChosen:
		switch e.Reason {
		case smtpkit.ReasonRemembered:
			t.printf("=== Using %s, found for %s by an earlier probe", e.Security, e.Addr)
		case smtpkit.ReasonStartTLSMissing:
			t.printf("=== STARTTLS not offered")
		case smtpkit.ReasonPlaintextAnswer, smtpkit.ReasonClosedInPlaintext, smtpkit.ReasonGreetedFirst, smtpkit.ReasonTLSHandshake:
			if e.Window > 0 {
				t.printf("=== No greeting within %v: the %s attempt won", e.Window, modeWord(e.Security))
			}
		}
	case smtpkit.LoginDone:
		if e.Next {
			t.printf("=== The server refused %s; trying the next mechanism", e.Mechanism)
		}
	}
}

func sentMarker(tls bool) string {
	if tls {
		return " ~>"
	}
	return " ->"
}

func modeWord(s smtpkit.Security) string {
	if s == smtpkit.SecurityImplicitTLS {
		return "implicit TLS"
	}
	return "plaintext"
}

func leafSubject(st tls.ConnectionState) string {
	if len(st.PeerCertificates) == 0 {
		return "(none)"
	}
	return st.PeerCertificates[0].Subject.String()
}

func (t *transcript) printf(format string, args ...any) {
	fmt.Fprintf(t.w, format+"\n", args...)
}

// info writes a "===" line of the command's own.
func (t *transcript) info(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.printf("=== "+format, args...)
}

// error writes a "***" line.
func (t *transcript) error(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range strings.Split(describe(err), "\n") {
		t.printf("*** %s", l)
	}
}
