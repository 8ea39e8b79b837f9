package smtpkit

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/smtpkit/smtpkit/internal/wire"
)

// Phase names the step of a session in which an error happened.
type Phase string

// The phases of a session, in the order they happen.
const (
	PhaseConnect  Phase = "connect"  // TCP connection (or proxy) to the server
	PhaseTLS      Phase = "tls"      // TLS handshake, implicit or after STARTTLS
	PhaseGreeting Phase = "greeting" // the server's 220 greeting
	PhaseEHLO     Phase = "ehlo"     // EHLO, or HELO when EHLO is refused
	PhaseSTARTTLS Phase = "starttls" // the STARTTLS command
	PhaseAuth     Phase = "auth"     // authentication
	PhaseMail     Phase = "mail"     // MAIL FROM
	PhaseRcpt     Phase = "rcpt"     // RCPT TO
	PhaseData     Phase = "data"     // DATA or BDAT and the message
	PhaseNoop     Phase = "noop"     // NOOP
	PhaseReset    Phase = "rset"     // RSET
	PhaseQuit     Phase = "quit"     // QUIT
)

// Sentinel errors, matched with errors.Is against any error smtpkit returns.
var (
	// ErrTLSNotOffered means TLS was required but the server offers neither STARTTLS nor implicit TLS.
	ErrTLSNotOffered = errors.New("the server does not offer STARTTLS, and TLS is required: nothing was sent in plaintext")
	// ErrTLSRefused means the server answered STARTTLS with something other than 220.
	ErrTLSRefused = errors.New("the server refused STARTTLS, and TLS is required: nothing was sent in plaintext")
	// ErrConnectTimeout means the TCP connection was not established within ConnectTimeout.
	ErrConnectTimeout = errors.New("connection not established within the connect timeout " +
		"(check the host and port, and whether a firewall drops the packets)")
	// ErrNameNotResolved matches an Error of PhaseConnect whose cause is a
	// failed name lookup (*net.DNSError): the host does not exist, or DNS
	// did not answer. Check the host name.
	ErrNameNotResolved = errors.New("the server's name does not resolve")
	// ErrConnectionRefused matches an Error of PhaseConnect whose cause is
	// a refused connection: the host answered, but nothing listens on that
	// port. Check the port, and whether the server runs.
	ErrConnectionRefused = errors.New("connection refused: nothing listens on that port")
	// ErrGreetingTimeout means no greeting arrived within GreetingTimeout.
	ErrGreetingTimeout = errors.New("no greeting within the greeting timeout")
	// ErrCommandTimeout means a reply did not arrive within CommandTimeout or DataTimeout.
	ErrCommandTimeout = errors.New("no reply within the command timeout")
	// ErrOperationTimeout means a whole operation ran past Options.Timeout.
	ErrOperationTimeout = errors.New("the operation did not finish within its time limit")
	// ErrProtocol means the server broke the SMTP grammar (malformed, oversized or unexpected data).
	ErrProtocol = wire.ErrProtocol
	// ErrInvalidArgument means a command argument held CR, LF or NUL; nothing was sent.
	ErrInvalidArgument = wire.ErrInvalidArgument
	// ErrNotSupported means a message needs an extension the server does not offer; nothing was sent.
	ErrNotSupported = errors.New("not supported by the server")
	// ErrMessageTooLarge means the message is larger than the server's SIZE limit; nothing was sent.
	ErrMessageTooLarge = errors.New("message too large for the server")
	// ErrAllRecipientsRefused means the server refused every recipient, so the message was not sent.
	ErrAllRecipientsRefused = errors.New("the server refused every recipient; the message was not sent")
	// ErrInvalidOptions means a setting of Options is invalid; the error is an *OptionError naming it, and nothing was sent.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrUnconfirmed means the connection broke after the whole message
	// was sent and before the server confirmed it: it may have been
	// delivered (RFC 1047), and sending it again may deliver it twice.
	ErrUnconfirmed = errors.New("the connection broke after the message was sent and before the server confirmed it: " +
		"it may have been delivered")
	// ErrClosed means the Client was closed, or broken by an earlier error, and can send nothing more.
	ErrClosed = errors.New("the connection is closed; dial again")
)

// Error is what smtpkit returns when a step of a session fails: the phase,
// the server's reply when there was one, and the cause.
type Error struct {
	Phase    Phase  // the step that failed
	Addr     string // the server's address
	Code     int    // the server's reply code, 0 when the server did not reply
	Enhanced [3]int // the RFC 3463 enhanced status code, zero when absent
	Message  string // the server's reply text, lines joined by "\n"
	Err      error  // the cause, often one of the sentinel errors
	Hints    []Hint // settings that may get past the error, when there are any

	unanswered bool // the connection broke before the end of the message left the client: it was not delivered
}

// Error says in one line what failed and, through the cause and the hints
// (worded as Go code), what to do.
func (e *Error) Error() string { return e.Describe(Hint.String) }

// Describe is Error with the hints worded by hint, so that a front end can
// name its own flags or keys instead of Go fields.
func (e *Error) Describe(hint func(Hint) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "smtp %s", e.Phase)
	if e.Addr != "" {
		fmt.Fprintf(&b, " %s", e.Addr)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ": server replied %d", e.Code)
		if e.Enhanced != [3]int{} {
			fmt.Fprintf(&b, " %d.%d.%d", e.Enhanced[0], e.Enhanced[1], e.Enhanced[2])
		}
		if e.Message != "" {
			fmt.Fprintf(&b, " %q", e.Message)
		}
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	writeHints(&b, e.Hints, hint)
	return b.String()
}

// writeHints appends " (try A, or B)" to b.
func writeHints(b *strings.Builder, hints []Hint, word func(Hint) string) {
	for i, h := range hints {
		if i == 0 {
			b.WriteString(" (try ")
		} else {
			b.WriteString(", or ")
		}
		b.WriteString(word(h))
	}
	if len(hints) > 0 {
		b.WriteString(")")
	}
}

// Hint suggests a setting that may get past an error: a field of Options
// and the value to try. Each front end words it in its own terms: Error in
// Go, the command line as a flag, package config as a key.
type Hint struct {
	// Field is the setting, as a path in Options: "Security",
	// "Auth.AllowCleartext", "TLS.StrictVersions", "Timeout".
	Field string
	// Value is the value to try: a Security, a bool or a time.Duration; nil
	// when the hint only names the setting.
	Value any
}

// String words the hint as Go, such as "Options.Security = smtpkit.SecurityImplicitTLS".
func (h Hint) String() string {
	switch v := h.Value.(type) {
	case nil:
		return "a larger Options." + h.Field
	case time.Duration:
		return fmt.Sprintf("Options.%s = %v", h.Field, v)
	}
	return fmt.Sprintf("Options.%s = %#v", h.Field, h.Value)
}

// OptionError reports an invalid setting of Options: which field, the value
// it held (never a secret) and what is wrong. errors.Is matches it with
// ErrInvalidOptions. Nothing was sent.
type OptionError struct {
	Field string // the setting, as a path in Options, such as "TLS.Versions[1]"
	Value string // the value as given; "" for a secret or when empty
	Err   error  // what is wrong with it, and what to write instead
	Hints []Hint // settings that would make the value acceptable
}

// Error names the field in Go terms.
func (e *OptionError) Error() string {
	return e.Describe(func(field string) string { return "Options." + field }, Hint.String)
}

// Describe is Error with the field and the hints worded by the caller, so
// that a configuration file can name its key and a command line its flag.
func (e *OptionError) Describe(field func(string) string, hint func(Hint) string) string {
	var b strings.Builder
	b.WriteString("smtpkit: ")
	b.WriteString(field(e.Field))
	if e.Value != "" {
		fmt.Fprintf(&b, " %q", e.Value)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	writeHints(&b, e.Hints, hint)
	return b.String()
}

// Unwrap returns what is wrong with the value.
func (e *OptionError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidOptions.
func (e *OptionError) Is(target error) bool { return target == ErrInvalidOptions }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether a connect error is of the kind target names:
// ErrNameNotResolved or ErrConnectionRefused, which are told from the
// cause's type (*net.DNSError, syscall.ECONNREFUSED) rather than set as a
// cause, so that the cause keeps its own words.
func (e *Error) Is(target error) bool {
	if e.Phase != PhaseConnect {
		return false
	}
	switch target {
	case ErrNameNotResolved:
		return errors.As(e.Err, new(*net.DNSError))
	case ErrConnectionRefused:
		return errors.Is(e.Err, syscall.ECONNREFUSED)
	}
	return false
}

// Temporary reports whether the server's reply was a 4xx: trying again later may succeed.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// replyError makes an Error from an unexpected reply.
func replyError(phase Phase, addr string, r *Reply, cause error) *Error {
	return &Error{Phase: phase, Addr: addr, Code: r.Code, Enhanced: r.Enhanced, Message: r.Text(), Err: cause}
}
