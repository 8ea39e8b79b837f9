// Package sasl provides the client side of the SASL mechanisms that SMTP
// servers offer for AUTH (RFC 4954).
//
// Every constructor returns a [github.com/emersion/go-sasl.Client], so the
// clients work with any Go mail library built on that interface, including
// github.com/emersion/go-smtp:
//
//	client, err := sasl.NewSCRAMClient(sasl.SCRAMSHA256Plus, "alice", password, "", &tlsState)
//	if err != nil {
//		return err
//	}
//	if err := smtpClient.Auth(client); err != nil {
//		return err
//	}
//	if err := client.(sasl.Finisher).Finish(); err != nil {
//		return err // the server said yes without proving it knows the password
//	}
//
// The constructors check their input: an empty username or password, or a
// control character such as CR, LF or NUL in a username, identity or token,
// is an error wrapping [ErrInvalidCredentials]. No error, String result or
// formatted value of a client ever holds a password or token.
//
// Some mechanisms know more than the server's final reply says: whether a
// SCRAM server proved that it knows the password, or why an OAuth server
// refused a token. Those clients implement [Finisher]; ask them after the
// exchange.
//
// Which mechanism to use is not this package's business: it only speaks the
// one it is given.
package sasl
