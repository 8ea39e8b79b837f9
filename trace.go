package smtpkit

import (
	"crypto/tls"
	"net"
	"time"
)

// Event is one thing that happened on a connection, for Options.Trace: its
// concrete type (ConnectStart, ConnectDone, TLSDone, Greeted, Capable,
// SecurityChosen, CommandSent, DataSent, ReplyRead, LoginDone,
// TransactionDone, PhaseDone) says what. Every event names its connection.
//
// Events are the one account of a session that every front end reads: the
// Transcript writer is built on them, and so are the command line's
// transcript, probe report and JSON. Match on types and fields, never on
// the words of a transcript or an error.
type Event interface {
	// ConnID returns the connection the event belongs to: numbered from 1
	// within its Dialer, so the connections of a Pool and both of Auto's
	// attempts are told apart.
	ConnID() uint64
}

// Conn names the connection of an event; it is embedded in every event.
type Conn struct {
	ID   uint64 // numbered from 1 within the Dialer
	Addr string // the server's address, host:port
}

// ConnID returns c.ID.
func (c Conn) ConnID() uint64 { return c.ID }

// ConnectStart is sent before a TCP connection is opened.
type ConnectStart struct {
	Conn
	Proxy string // the proxy's URL without its password; "" when there is none
	// Attempt says why the connection is opened: "" for the first, or the
	// Auto probe it serves ("implicit-tls" for the TLS attempt of a race,
	// "plaintext" for the plaintext retry after port 465 answered in plaintext).
	Attempt string
}

// ConnectDone is sent when the TCP connection (through the proxy, when there
// is one) is open, or failed.
type ConnectDone struct {
	Conn
	Proxy   string   // the proxy's URL without its password; "" when there is none
	Local   net.Addr // the local end; nil on failure
	Remote  net.Addr // the remote end (the proxy's, with a proxy); nil on failure
	Elapsed time.Duration
	Err     error
}

// TLSDone is sent when a TLS handshake ends, implicit or after STARTTLS.
type TLSDone struct {
	Conn
	// State holds the version, cipher suite, peer certificates and whether
	// the session was resumed (State.DidResume); zero on failure.
	State    tls.ConnectionState
	Implicit bool // implicit TLS rather than STARTTLS
	Elapsed  time.Duration
	Err      error
}

// Greeted is sent when the server's greeting has been read.
type Greeted struct {
	Conn
	Reply Reply
}

// Capable is sent when the server's capabilities are known: after each EHLO
// (or HELO), so twice with STARTTLS.
type Capable struct {
	Conn
	Capabilities Capabilities
	TLS          bool // announced over TLS
}

// Reason says why a session ended up in its security mode.
type Reason string

// The reasons of SecurityChosen.
const (
	ReasonAsked             Reason = "asked"               // the mode asked for, without a probe
	ReasonRemembered        Reason = "remembered"          // the mode an earlier probe found for this path
	ReasonGreetedFirst      Reason = "greeted-first"       // Auto: a plaintext greeting came first
	ReasonTLSHandshake      Reason = "tls-handshake"       // Auto: the TLS attempt greeted first
	ReasonPlaintextAnswer   Reason = "plaintext-answer"    // Auto: the server answered a TLS ClientHello in plaintext
	ReasonClosedInPlaintext Reason = "closed-without-word" // Auto: the plaintext attempt was closed without a greeting
	ReasonStartTLSOffered   Reason = "starttls-offered"    // STARTTLS was offered and used
	ReasonStartTLSMissing   Reason = "starttls-not-offered"
)

// SecurityChosen is sent when the security of a session is decided: once
// Auto's probe has a winner, and once STARTTLS is used or found missing.
type SecurityChosen struct {
	Conn
	Asked    Security // the mode Options asked for
	Security Security // the mode in use or about to be: SecurityImplicitTLS, SecurityStartTLS or SecurityNone
	Reason   Reason
	// Window is how long Auto waited for a plaintext greeting before it
	// tried TLS on a second connection, when it did; zero otherwise.
	Window time.Duration
}

// CommandSent is sent for each command line written, secrets redacted.
type CommandSent struct {
	Conn
	Line     string // the line without CRLF; "AUTH PLAIN <redacted>" for a secret
	Redacted bool   // Line stands for a secret that was not shown
	TLS      bool   // written over TLS
}

// DataSent is sent for message data written: the whole DATA content, or one BDAT chunk.
type DataSent struct {
	Conn
	Bytes int64 // the message bytes written (before dot-stuffing for DATA)
	Chunk bool  // a BDAT chunk; false for DATA
	Last  bool  // the end of the message
	TLS   bool
}

// ReplyRead is sent for each reply read.
type ReplyRead struct {
	Conn
	Reply Reply
	Lines []string // the lines as received, code included, without CRLF
	TLS   bool     // read over TLS
}

// LoginDone is sent when one login mechanism has been tried.
type LoginDone struct {
	Conn
	Mechanism string
	Err       error // nil when the server accepted the login
	Next      bool  // the refusal leads to the next mechanism
}

// TransactionDone is sent when a message's transaction has ended.
type TransactionDone struct {
	Conn
	From   string
	Result *Result // the recipients' replies and the final reply; nil when nothing was answered
	Err    error
}

// PhaseDone is sent when a phase of a session ends, with how long it took.
type PhaseDone struct {
	Conn
	Phase   Phase
	Elapsed time.Duration
	Err     error
}
