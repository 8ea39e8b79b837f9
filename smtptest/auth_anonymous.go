package smtptest

import "github.com/emersion/go-sasl"

// anonymousServer is go-sasl's ANONYMOUS server: it accepts every client,
// which is then recorded with no user name.
func (s *session) anonymousServer() sasl.Server {
	return sasl.NewAnonymousServer(func(trace string) error {
		s.login("ANONYMOUS", "")
		return nil
	})
}
