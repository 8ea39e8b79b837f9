package smtptest

import (
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// plainServer is go-sasl's PLAIN server checking the server's Users. An
// authorization identity other than the user name is refused.
func (s *session) plainServer() sasl.Server {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if !s.server.checkPassword(username, password) {
			return smtp.ErrAuthFailed
		}
		s.login("PLAIN", username)
		return nil
	})
}
