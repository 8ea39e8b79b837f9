// Package smtptest provides SMTP servers for testing SMTP clients, in the
// spirit of net/http/httptest.
//
// Every server listens on a random port of 127.0.0.1 and is stopped with
// Close, which also closes its connections and waits for its goroutines:
//
//	srv := smtptest.NewServer(smtptest.StartTLS)
//	defer srv.Close()
//
// [Server] is a well-behaved server that records delivered messages.
// [RawServer] runs a script of your own on each connection, for testing how
// a client copes with servers that misbehave. [Blackhole] is an address whose
// TCP handshake never completes, for connect-timeout tests.
// [ClientTLSConfig] returns a TLS configuration that trusts the certificate
// all these servers present.
package smtptest
