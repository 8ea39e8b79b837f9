package smtptest

import "fmt"

// Security says how a Server protects its connections with TLS.
type Security int

const (
	// Plain is a server without TLS that does not offer STARTTLS.
	Plain Security = iota
	// StartTLS is a plaintext server that offers STARTTLS.
	StartTLS
	// ImplicitTLS is a server that speaks TLS from the first byte.
	ImplicitTLS
)

// String returns "plain", "starttls" or "implicit-tls".
func (s Security) String() string {
	switch s {
	case Plain:
		return "plain"
	case StartTLS:
		return "starttls"
	case ImplicitTLS:
		return "implicit-tls"
	default:
		return fmt.Sprintf("Security(%d)", int(s))
	}
}
