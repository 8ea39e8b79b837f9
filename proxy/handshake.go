package proxy

import (
	"fmt"
	"time"
)

// DefaultHandshakeTimeout is the handshake limit of a dialer whose
// HandshakeTimeout is zero, the same as an SMTP server's greeting limit: a
// proxy's own replies involve no other host, so they come at once or not at all.
const DefaultHandshakeTimeout = 10 * time.Second

// handshakeLimit returns d, or DefaultHandshakeTimeout when d is zero.
func handshakeLimit(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultHandshakeTimeout
	}
	return d
}

// checkHandshakeTimeout refuses a negative HandshakeTimeout.
func checkHandshakeTimeout(d time.Duration) error {
	if d < 0 {
		return invalidf("HandshakeTimeout is negative (%v): use zero for the default, %v", d, DefaultHandshakeTimeout)
	}
	return nil
}

// handshakeTimeoutError is the cause when the handshake limit passed:
// waiting says what the proxy was to answer, check what to look at.
func handshakeTimeoutError(limit time.Duration, waiting, check string) error {
	return fmt.Errorf("%w (%v, waiting for %s): %s, or raise the dialer's HandshakeTimeout if it is only slow",
		ErrHandshakeTimeout, limit, waiting, check)
}
