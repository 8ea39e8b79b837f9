package smtptest

import "github.com/smtpkit/smtpkit"

// ClientOptions returns smtpkit options that reach s in its own security
// mode and trust its certificate, like httptest's Server.Client.
func (s *Server) ClientOptions() *smtpkit.Options {
	mode := smtpkit.SecurityNone
	switch s.Security {
	case StartTLS:
		mode = smtpkit.SecurityStartTLS
	case ImplicitTLS:
		mode = smtpkit.SecurityImplicitTLS
	}
	return &smtpkit.Options{Security: mode, TLSConfig: ClientTLSConfig()}
}

// Dialer returns a Dialer with ClientOptions: it reaches the server in its
// mode and trusts its certificate, as httptest's Server.Client does for HTTP.
func (s *Server) Dialer() *smtpkit.Dialer {
	return &smtpkit.Dialer{Options: *s.ClientOptions()}
}
