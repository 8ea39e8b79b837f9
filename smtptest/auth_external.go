package smtptest

import (
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// externalServer is go-sasl's EXTERNAL server, relying on the TLS client
// certificate: the client is authenticated as the certificate's subject
// common name, and may ask for no other identity.
func (s *session) externalServer() sasl.Server {
	return sasl.NewExternalServer(func(identity string) error {
		state, ok := s.conn.TLSConnectionState()
		if !ok || len(state.PeerCertificates) == 0 {
			return authFailed("EXTERNAL needs a TLS client certificate")
		}
		name := state.PeerCertificates[0].Subject.CommonName
		if identity != "" && identity != name {
			return smtp.ErrAuthFailed
		}
		s.login("EXTERNAL", name)
		return nil
	})
}
