package smtpkit

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Security says how a connection is protected by TLS.
//
// The zero value, SecurityTLSAuto, never sends anything in plaintext after the
// greeting: it finds out whether the server speaks implicit TLS or STARTTLS.
type Security int

const (
	// SecurityTLSAuto uses implicit TLS or STARTTLS, whichever the server speaks, and never plaintext.
	SecurityTLSAuto Security = iota
	// SecurityAuto uses implicit TLS or STARTTLS, whichever the server speaks, and plaintext only when it offers neither.
	SecurityAuto
	// SecurityImplicitTLS speaks TLS from the first byte ("SMTPS", port 465).
	SecurityImplicitTLS
	// SecurityStartTLS upgrades with STARTTLS and fails when the server does not offer it or refuses it.
	SecurityStartTLS
	// SecurityStartTLSIfOffered upgrades with STARTTLS when offered and goes on in plaintext when
	// not; a STARTTLS that is offered and then refused or failed is an error, never a fallback.
	SecurityStartTLSIfOffered
	// SecurityNone never uses TLS.
	SecurityNone
)

var securityNames = [...]string{
	SecurityTLSAuto:           "tls-auto",
	SecurityAuto:              "auto",
	SecurityImplicitTLS:       "implicit-tls",
	SecurityStartTLS:          "starttls",
	SecurityStartTLSIfOffered: "starttls-if-offered",
	SecurityNone:              "none",
}

// GoString returns the constant's Go name, such as "smtpkit.SecurityImplicitTLS".
func (s Security) GoString() string {
	if s >= 0 && int(s) < len(securityGoNames) {
		return "smtpkit." + securityGoNames[s]
	}
	return fmt.Sprintf("smtpkit.Security(%d)", int(s))
}

var securityGoNames = [...]string{
	SecurityTLSAuto:           "SecurityTLSAuto",
	SecurityAuto:              "SecurityAuto",
	SecurityImplicitTLS:       "SecurityImplicitTLS",
	SecurityStartTLS:          "SecurityStartTLS",
	SecurityStartTLSIfOffered: "SecurityStartTLSIfOffered",
	SecurityNone:              "SecurityNone",
}

// String returns the mode's name as ParseSecurity accepts it.
func (s Security) String() string {
	if s >= 0 && int(s) < len(securityNames) {
		return securityNames[s]
	}
	return fmt.Sprintf("Security(%d)", int(s))
}

// ParseSecurity turns a name such as "starttls" or "implicit-tls" into a Security.
func ParseSecurity(name string) (Security, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for s, v := range securityNames {
		if n == v {
			return Security(s), nil
		}
	}
	switch n { // the names other tools use
	case "tls", "ssl", "smtps", "implicit":
		return SecurityImplicitTLS, nil
	case "plain", "plaintext", "off":
		return SecurityNone, nil
	case "opportunistic", "may":
		return SecurityStartTLSIfOffered, nil
	}
	return 0, fmt.Errorf("smtpkit: unknown security mode %q (want one of %s)", name, strings.Join(securityNames[:], ", "))
}

// Default time limits. RFC 5321 section 4.5.3.2 gives the command and data ones.
const (
	DefaultConnectTimeout  = 30 * time.Second
	DefaultGreetingTimeout = 10 * time.Second // RFC 5321 allows 5 minutes; short, so a mode mismatch fails fast
	DefaultCommandTimeout  = 5 * time.Minute  // RFC 5321: MAIL and RCPT
	DefaultDataTimeout     = 10 * time.Minute // RFC 5321: the reply after the end of the data
)

// ContextDialer opens network connections; net.Dialer and the dialers of
// golang.org/x/net/proxy satisfy it.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options configures a Client. The zero value is safe: TLS is required
// (implicit or STARTTLS, detected), certificates are verified against the
// system roots, and every time limit has its default.
type Options struct {
	// Security selects how the connection is protected; see Security.
	Security Security

	// TLSConfig is the TLS configuration of implicit TLS and STARTTLS; nil
	// means verify with the system roots. ServerName defaults to the host of
	// the address. It is cloned, never modified.
	//
	// The one rule of TLS settings: TLSConfig holds what crypto/tls can hold,
	// TLS adds what it cannot hold as plain values (files to read, pins, a
	// list of versions), and Validate refuses a setting made in both.
	TLSConfig *tls.Config

	// LocalName is the name sent with EHLO/HELO; empty means the address
	// literal of the local end of the connection, such as "[192.0.2.1]".
	LocalName string

	// ConnectTimeout limits establishing the TCP connection.
	ConnectTimeout time.Duration
	// GreetingTimeout limits the wait for the 220 greeting, the implicit TLS
	// handshake included.
	GreetingTimeout time.Duration
	// CommandTimeout limits the wait for the reply to each command.
	CommandTimeout time.Duration
	// DataTimeout limits the wait for the reply after the message data.
	DataTimeout time.Duration
	// Timeout limits each whole operation (Dial, a send, Quit); zero means no
	// limit beyond the per-step ones. A context deadline wins over every limit.
	Timeout time.Duration

	// TLS adds to TLSConfig what a configuration file names: allowed
	// versions, a CA file, a client certificate's files, pinned
	// fingerprints. The files are read once per Dialer.
	TLS TLSOptions

	// Auth, when set, logs in during Dial; see Auth.
	Auth *Auth

	// Dialer opens the TCP connection (to the proxy, when there is one); nil
	// means a net.Dialer bound as LocalAddr or BindLocal say. LocalAddr and
	// BindLocal cannot be combined with a Dialer: bind in the Dialer instead.
	Dialer ContextDialer
	// Proxy is the URL of a proxy to connect through, such as
	// "socks5h://user:pass@proxy.example:1080" or "http://proxy.example:3128"
	// (schemes socks4, socks4a, socks5, socks5h, http, https; see package
	// proxy); empty means none. Every connection goes through it, both of
	// Auto's included, and ConnectTimeout covers the proxy's handshake. A
	// proxy's refusal is an Error of PhaseConnect that wraps a *proxy.Error,
	// so errors.Is matches proxy.ErrAuthFailed and the other sentinels. The
	// password never appears in errors or transcripts.
	Proxy string
	// ProxyFromEnvironment takes the proxy from ALL_PROXY and NO_PROXY (see
	// proxy.FromEnvironment) when Proxy is empty; otherwise, and when false,
	// the environment is ignored.
	//
	// The proxy's own replies, which involve no remote host (the SOCKS5
	// method choice and login, the TLS handshake with an https proxy), are
	// limited by GreetingTimeout; its reply to CONNECT, which waits for the
	// proxy to reach the server, by ConnectTimeout.
	ProxyFromEnvironment bool
	// LocalAddr is the local address to connect from (to the proxy, with a
	// proxy): an IP, or IP:port, such as "192.0.2.10" or "[2001:db8::10]:0".
	// A fixed port suits one connection at a time, and Auto may open two.
	LocalAddr string
	// BindLocal, when set, chooses the local address of every connection
	// attempt (each address of the host in turn, both of Auto's connections)
	// from the remote address it goes to: the proxy's, with a proxy. It wins
	// over LocalAddr; a nil result lets the system choose.
	BindLocal func(remote *net.TCPAddr) *net.TCPAddr

	// Transcript, when set, receives the protocol dialogue as "C: " and "S: "
	// lines, with "* " lines for events such as the TLS handshake; it is
	// written from the events Trace receives.
	Transcript io.Writer
	// Logger, when set, receives events worth a warning, such as Auto settling on plaintext.
	Logger *slog.Logger
	// Trace, when set, receives every event of every connection (see
	// Event). Calls are never concurrent, and the events of one connection
	// come in order; Trace must not block for long, nor call the Client.
	Trace func(Event)
}

// VersionSSL30 names SSL 3.0 in TLSOptions.Versions; Go cannot speak it.
const VersionSSL30 = 0x0300

// TLSOptions is the part of a TLS policy that tls.Config cannot hold as
// plain values. Validate checks it; a Dialer reads its files once, before
// its first connection, and again after Reload.
type TLSOptions struct {
	// Versions lists the protocol versions allowed: VersionSSL30 and
	// tls.VersionTLS10 to tls.VersionTLS13. Empty means Go's defaults (TLS
	// 1.2 and 1.3). A version Go cannot speak is dropped with a warning to
	// Options.Logger, unless StrictVersions is set; a list of nothing else
	// is refused. A list with a gap, such as TLS 1.0 and 1.3, allows only
	// its own versions: the version the server chooses is checked.
	Versions []uint16
	// StrictVersions refuses to connect when Versions names a version this
	// runtime cannot speak, instead of dropping it.
	StrictVersions bool
	// CAFile is a PEM file of the certificates to trust instead of the system roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that ask for one (and for the EXTERNAL mechanism); set both or neither.
	CertFile, KeyFile string
	// Fingerprints pins the server's certificate: the SHA-256 of its DER
	// form in hex, colons and case optional (msmtp's tls_fingerprint). A
	// certificate that matches one is trusted whoever signed it and whatever
	// names it holds; any other is refused, even one a CA vouches for.
	Fingerprints []string
	// NoSessionResumption turns off TLS session resumption. By default a
	// Dialer keeps the sessions its connections were given (in
	// TLSConfig.ClientSessionCache when set, else in a cache of its own),
	// so a reconnect to the same server skips most of the handshake; the
	// certificate checks, pins included, still run.
	NoSessionResumption bool
}
