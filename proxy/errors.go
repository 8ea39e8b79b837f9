package proxy

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sentinel errors, matched with errors.Is against any error this package returns.
var (
	// ErrAuthRequired means the proxy asks for credentials and none were sent.
	ErrAuthRequired = errors.New("the proxy requires credentials and none were sent")
	// ErrAuthFailed means the proxy rejected the credentials, or for SOCKS4 the user ID.
	ErrAuthFailed = errors.New("the proxy rejected the credentials")
	// ErrRefused means the proxy would not, or could not, connect to the target.
	ErrRefused = errors.New("the proxy did not connect to the target")
	// ErrHandshakeTimeout means the proxy accepted the connection and then did
	// not answer its own part of the handshake (SOCKS5 method and
	// authentication replies, an HTTPS proxy's TLS handshake) within the
	// dialer's HandshakeTimeout; no remote host was involved yet.
	ErrHandshakeTimeout = errors.New("the proxy accepted the connection and did not answer within the handshake limit")
	// ErrProtocol means the proxy's reply was malformed, oversized, cut short or of another protocol.
	ErrProtocol = errors.New("the proxy's reply breaks the protocol")
	// ErrInvalidArgument means an address, URL, credential or header field is unusable; nothing was sent.
	ErrInvalidArgument = errors.New("invalid argument, nothing was sent to the proxy")
)

// Error is what a dialer of this package returns when a dial fails: which
// proxy, which target, which step, the proxy's reply code and the cause.
// It never holds the proxy's password.
type Error struct {
	Protocol string // "socks4", "socks4a", "socks5", "socks5h", "http" or "https"
	Proxy    string // the proxy's host:port
	Target   string // the address the caller asked for
	Op       string // the step that failed: "request" (refused before sending), "resolve", "dial", "tls" or "handshake"
	Code     int    // the proxy's reply code (SOCKS) or HTTP status; 0 when it did not reply
	Err      error  // the cause, often wrapping one of the sentinel errors
}

// Error says in one line what failed and, through the cause, what to do.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s proxy %s", e.Protocol, e.Proxy)
	if e.Target != "" {
		fmt.Fprintf(&b, ", target %s", e.Target)
	}
	if e.Op != "" {
		fmt.Fprintf(&b, ": %s", e.Op)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// newError makes an Error, hiding anything before an "@" in the proxy address
// in case credentials were put there by mistake.
func newError(protocol, proxyAddr, target, op string, code int, err error) *Error {
	if i := strings.LastIndex(proxyAddr, "@"); i >= 0 {
		proxyAddr = "xxxxx@" + proxyAddr[i+1:]
	}
	return &Error{Protocol: protocol, Proxy: proxyAddr, Target: target, Op: op, Code: code, Err: err}
}

// invalidf makes an ErrInvalidArgument error with the words that explain it.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// errClosedEarly is the cause when the proxy hangs up in the middle of the handshake.
var errClosedEarly = fmt.Errorf("%w: the proxy closed the connection before finishing the handshake (%w)",
	ErrProtocol, io.ErrUnexpectedEOF)

// quote returns s quoted for an error message, cut to a readable length;
// it is used for text the proxy sent.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		return fmt.Sprintf("%q...", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
