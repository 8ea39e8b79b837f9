// Package smtpkit is an SMTP client whose connection handling leaves nothing
// to chance.
//
// Dial reaches a server in the security mode Options asks for: plaintext,
// implicit TLS, STARTTLS required or if offered, or Auto and TLS-auto, which
// find out which the server speaks without waiting out a timeout and never
// fall back to plaintext after a TLS failure. Every step has its own time
// limit (connect, greeting, each command, the data) and a context cancels
// any of them at once. The zero Options are safe: TLS is required and
// certificates are verified.
//
//	c, err := smtpkit.Dial(ctx, "mail.example.com:587", nil)
//	if err != nil {
//		return err // an *smtpkit.Error: phase, reply code, enhanced code, cause
//	}
//	defer c.Quit(ctx)
//	fmt.Println(c.Security(), c.Capabilities().AuthMechanisms())
//
// Package smtptest starts in-process servers to test against.
package smtpkit
