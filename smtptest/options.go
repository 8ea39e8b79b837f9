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
