package smtpkit

import (
	"crypto/tls"
	"fmt"
	"io"
)

// transcript writes the protocol dialogue to Options.Transcript from the
// events: "C: " for what the client sent, "S: " for what the server sent,
// "* " for other events such as the TLS handshake. The Dialer hands it one
// event at a time, so lines of racing connections never mix.
type transcript struct {
	w io.Writer
}

// write writes the lines of one event.
func (t *transcript) write(e Event) {
	switch e := e.(type) {
	case ConnectStart:
		if e.Proxy != "" {
			t.printf("* connecting to %s through the proxy %s", e.Addr, e.Proxy)
		}
		switch e.Attempt {
		case "implicit-tls":
			t.printf("* auto: trying implicit TLS on a second connection")
		case "plaintext":
			t.printf("* auto: the server answered TLS in plaintext; dialling again without TLS")
		}
	case CommandSent:
		t.printf("C: %s", e.Line)
	case DataSent:
		switch {
		case e.Chunk:
			t.printf("C: <%d bytes of message data>", e.Bytes)
		default:
			t.printf("C: <message data>")
			t.printf("C: .")
		}
	case ReplyRead:
		for _, l := range e.Lines {
			t.printf("S: %s", l)
		}
	case TLSDone:
		if e.Err == nil {
			t.printf("* TLS up: %s, %s, server certificate %s", tls.VersionName(e.State.Version),
				tls.CipherSuiteName(e.State.CipherSuite), peerSubject(e.State))
		}
	case SecurityChosen:
		switch e.Reason {
		case ReasonRemembered:
			t.printf("* auto: using %s, found earlier for this path", e.Security)
		case ReasonStartTLSMissing:
			t.printf("* STARTTLS not offered")
		case ReasonGreetedFirst, ReasonTLSHandshake, ReasonClosedInPlaintext:
			if e.Window > 0 {
				t.printf("* auto: %s after waiting %v for a greeting (%s)", e.Security, e.Window, e.Reason)
			}
		}
	case LoginDone:
		if e.Next {
			t.printf("* auth: the server refused %s; trying the next mechanism", e.Mechanism)
		}
	}
}

func (t *transcript) printf(format string, args ...any) {
	fmt.Fprintf(t.w, format+"\n", args...)
}

func peerSubject(st tls.ConnectionState) string {
	if len(st.PeerCertificates) == 0 {
		return "(none)"
	}
	return st.PeerCertificates[0].Subject.String()
}
