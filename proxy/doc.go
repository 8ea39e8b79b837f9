// Package proxy dials TCP connections through SOCKS4, SOCKS4a, SOCKS5 and
// HTTP CONNECT proxies, plain or over TLS.
//
// Each dialer is a plain struct whose DialContext method satisfies
// smtpkit.Options.Dialer and golang.org/x/net/proxy.ContextDialer:
//
//	d := &proxy.SOCKS5{Addr: "proxy.example:1080", Username: "alice", Password: "secret"}
//	c, err := smtpkit.Dial(ctx, "mail.example.com:587", &smtpkit.Options{Dialer: d})
//
// Parse and FromURL build a dialer from a URL such as
// "socks5h://alice:secret@proxy.example:1080"; FromEnvironment builds one
// from ALL_PROXY and NO_PROXY, but only when the caller asks for it.
//
// Every dialer reaches its proxy through Forward, any ContextDialer (a
// net.Dialer when nil), so proxies can be chained and the caller's dialer
// can bind a local address. The context limits the whole dial: the
// connection to the proxy and the handshake with it. When it is cancelled or
// its deadline passes, DialContext returns at once, closes the connection to
// the proxy, and its error wraps context.Canceled or context.DeadlineExceeded.
//
// The waits that involve only the proxy have a shorter limit of their own,
// HandshakeTimeout (DefaultHandshakeTimeout, 10 s, when zero), like an SMTP
// server's greeting: SOCKS5's method and authentication replies, and the TLS
// handshake with an HTTPS proxy. A proxy that accepts the connection and then
// says nothing fails with ErrHandshakeTimeout within that limit instead of
// holding the dial for the whole context. The CONNECT reply waits for the
// proxy to reach the target, so only the context limits it; SOCKS4 and
// SOCKS4a have nothing else. Config sets HandshakeTimeout on the dialers
// Parse and FromEnvironment build.
//
// Errors are *Error values naming the proxy, the target and the failed step;
// errors.Is matches them against ErrAuthRequired, ErrAuthFailed, ErrRefused,
// ErrHandshakeTimeout, ErrProtocol and ErrInvalidArgument. Passwords never
// appear in errors, and a dialer printed with any fmt verb or logged with
// log/slog shows "xxxxx" in their place (String, GoString and LogValue have
// value receivers, so a struct value is as safe to print as a pointer).
package proxy
