package smtptest

import (
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// loginServer is the server side of LOGIN: it asks "Username:", then
// "Password:". A client that sends the user name as an initial response is
// asked only for the password.
type loginServer struct {
	session  *session
	username string
	asked    string // the prompt last sent: "", "Username:" or "Password:"
}

// loginServer returns a LOGIN server checking the server's Users.
func (s *session) loginServer() sasl.Server {
	return &loginServer{session: s}
}

// Next asks for the user name and password, then checks them.
func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.asked {
	case "":
		if response == nil {
			l.asked = "Username:"
			return []byte(l.asked), false, nil
		}
		l.username = string(response)
		l.asked = "Password:"
		return []byte(l.asked), false, nil
	case "Username:":
		l.username = string(response)
		l.asked = "Password:"
		return []byte(l.asked), false, nil
	default:
		if !l.session.server.checkPassword(l.username, string(response)) {
			return nil, false, smtp.ErrAuthFailed
		}
		l.session.login("LOGIN", l.username)
		return nil, true, nil
	}
}
