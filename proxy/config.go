package proxy

import "time"

// Config holds the settings Parse, FromURL and FromEnvironment give the
// dialers they build; its methods of the same names apply them. The zero
// value gives the same dialers as those functions with a nil forward.
type Config struct {
	// Forward reaches the proxy; nil means a net.Dialer.
	Forward ContextDialer
	// HandshakeTimeout becomes the HandshakeTimeout of the SOCKS5 and HTTP
	// dialers; zero means DefaultHandshakeTimeout. A negative value is
	// refused with ErrInvalidArgument, whatever the URL's scheme.
	HandshakeTimeout time.Duration
}
