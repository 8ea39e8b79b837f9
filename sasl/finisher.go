package sasl

// Finisher is implemented by the clients whose outcome the server's final
// reply does not fully tell: SCRAM (did the server prove it knows the
// password?) and XOAUTH2 and OAUTHBEARER (why did the server refuse the
// token?).
//
// Call Finish once the server has sent its final reply. After a success
// reply, a non-nil error means the success must not be trusted: treat the
// authentication as failed and close the connection. After a failure reply,
// a non-nil error may say why the server failed it.
type Finisher interface {
	// Finish returns nil if the exchange ran to its end as the mechanism
	// requires, and otherwise what went wrong.
	Finish() error
}
