package smtptest

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// supportedMechanisms lists the SASL mechanisms a Server implements.
var supportedMechanisms = []string{
	"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER",
	"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512", "SCRAM-SHA-512-PLUS",
	"EXTERNAL", "ANONYMOUS",
}

// prepareAuth copies Users and Tokens, settles which mechanisms the server
// offers, and makes the TLS configuration ask for client certificates if
// EXTERNAL is offered. Start calls it; it panics on an unknown mechanism.
func (s *Server) prepareAuth() {
	s.users = maps.Clone(s.Users)
	s.tokens = maps.Clone(s.Tokens)

	wanted := s.AuthMechanisms
	if wanted == nil {
		if len(s.users) > 0 {
			wanted = append(wanted, "PLAIN", "LOGIN")
		}
		if len(s.tokens) > 0 {
			wanted = append(wanted, "XOAUTH2", "OAUTHBEARER")
		}
	}
	s.mechanisms = nil
	for _, mech := range wanted {
		mech = strings.ToUpper(mech)
		if !slices.Contains(supportedMechanisms, mech) {
			panic(fmt.Sprintf("smtptest: AuthMechanisms holds %q, which Server does not implement; use some of %s", mech, strings.Join(supportedMechanisms, ", ")))
		}
		if !slices.Contains(s.mechanisms, mech) {
			s.mechanisms = append(s.mechanisms, mech)
		}
	}

	cfg := s.Config.TLSConfig
	if slices.Contains(s.mechanisms, "EXTERNAL") && cfg != nil && cfg.ClientAuth == tls.NoClientCert {
		cfg = cfg.Clone()
		cfg.ClientAuth = tls.RequestClientCert
		s.Config.TLSConfig = cfg
	}
}

// needsTLS reports whether mech is offered only over TLS.
func needsTLS(mech string) bool {
	return strings.HasSuffix(mech, "-PLUS") || mech == "EXTERNAL"
}

// AuthMechanisms lists the mechanisms the server offers on this connection:
// the -PLUS forms and EXTERNAL only once TLS is up.
func (s *session) AuthMechanisms() []string {
	_, isTLS := s.conn.TLSConnectionState()
	var offered []string
	for _, mech := range s.server.mechanisms {
		if needsTLS(mech) && !isTLS {
			continue
		}
		offered = append(offered, mech)
	}
	return offered
}

// Auth returns the server side of mech, if the server offers it on this
// connection.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(s.AuthMechanisms(), mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	switch mech {
	case "PLAIN":
		return s.plainServer(), nil
	case "LOGIN":
		return s.loginServer(), nil
	case "CRAM-MD5":
		return s.cramMD5Server(), nil
	case "XOAUTH2":
		return s.xoauth2Server(), nil
	case "OAUTHBEARER":
		return s.oauthBearerServer(), nil
	case "EXTERNAL":
		return s.externalServer(), nil
	case "ANONYMOUS":
		return s.anonymousServer(), nil
	default:
		return s.scramServer(mech)
	}
}

// login records that the client authenticated as user with mech.
func (s *session) login(mech, user string) {
	s.mech = mech
	s.user = user
}

// passwordOf returns the password of user, if the server knows the user.
func (s *Server) passwordOf(user string) (string, bool) {
	password, ok := s.users[user]
	return password, ok
}

// checkPassword reports whether password is the password of user.
func (s *Server) checkPassword(user, password string) bool {
	want, ok := s.passwordOf(user)
	return ok && subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1
}

// authFailed is a 535 reply that says why, so that a failing client test
// shows what the server disliked.
func authFailed(format string, args ...any) error {
	return &smtp.SMTPError{
		Code:         535,
		EnhancedCode: smtp.EnhancedCode{5, 7, 8},
		Message:      "Authentication failed: " + fmt.Sprintf(format, args...),
	}
}

// malformed is a 501 reply for a client message that does not follow its
// mechanism, so that client bugs are not mistaken for wrong credentials.
func malformed(format string, args ...any) error {
	return &smtp.SMTPError{
		Code:         501,
		EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message:      "Malformed authentication response: " + fmt.Sprintf(format, args...),
	}
}
