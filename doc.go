// Package smtpkit is an SMTP client whose connection handling leaves nothing
// to chance.
//
// Dial reaches a server in the security mode Options asks for: plaintext,
// implicit TLS, STARTTLS required or if offered, or Auto and TLS-auto, which
// find out which the server speaks without waiting out a timeout and never
// fall back to plaintext after a TLS failure; through a SOCKS or HTTP proxy
// and from a chosen local address when asked. Every step has its own time
// limit (connect, greeting, each command, the data) and a context cancels
// any of them at once. The zero Options are safe: TLS is required and
// certificates are verified.
//
//	c, err := smtpkit.Dial(ctx, "mail.example.com:587", &smtpkit.Options{
//		Auth: &smtpkit.Auth{Username: "me", Password: pw},
//	})
//	if err != nil {
//		return err // an *smtpkit.Error: phase, reply code, enhanced code, cause
//	}
//	defer c.Quit(ctx)
//	res, err := c.Send(ctx, &smtpkit.Envelope{From: "me@example.com", To: to}, msg)
//
// A Dialer holds one policy (Options) and what its connections share, as
// net/http's Transport does: the modes Auto found (a ModeCache, in memory
// or in a file across runs), the TLS configuration with its files read
// once, the proxy dialer. Dial is the shorthand for a Dialer of one call,
// and NewClient sets up a session on a connection the caller already has.
//
// Options.Trace receives typed events (see Event), each naming its
// connection: connections and TLS handshakes, greetings, capabilities,
// the security decision and why, commands (secrets redacted) and replies,
// logins and transactions, and the time each phase took. The Transcript
// writer is built on them, and so are the command line's reports.
//
// Options.Validate reports every invalid setting as an *OptionError; each
// setting has one exported parser (ParseSecurity, ParseTLSVersions, ...)
// that configuration files and flags share. An *Error carries Hints: which
// setting and value may get past it, for each front end to word its way.
//
// Login picks the strongest mechanism the server offers and Auth allows, and
// never sends a password in the clear unless told to. Send streams a message
// with as few round trips as the server allows (one, with PIPELINING and
// CHUNKING); SendBatch pipelines whole transactions; Pool shares connections
// among goroutines and SendAll spreads a bulk send over them.
//
// Package smtptest starts in-process servers and proxies to test against;
// package sasl holds the login mechanisms, proxy the proxy dialers, and
// config the accounts read from files.
package smtpkit
