package smtptest

import (
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// xoauth2Server is the server side of XOAUTH2: it checks
// "user=USER\x01auth=Bearer TOKEN\x01\x01" against the server's Tokens. A
// wrong token gets the JSON error challenge, and 535 after the client's
// empty response.
type xoauth2Server struct {
	session *session
	asked   bool // whether an empty challenge asked for the response
	refused bool // whether the error challenge has been sent
}

// xoauth2Server returns an XOAUTH2 server checking the server's Tokens.
func (s *session) xoauth2Server() sasl.Server {
	return &xoauth2Server{session: s}
}

// Next checks the client's response, or ends the error flow.
func (x *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	if x.refused {
		if len(response) != 0 {
			return nil, false, malformed("XOAUTH2 error challenges are answered with an empty response")
		}
		return nil, false, smtp.ErrAuthFailed
	}
	if response == nil && !x.asked {
		x.asked = true
		return []byte{}, false, nil
	}

	fields, ok := strings.CutSuffix(string(response), "\x01\x01")
	userField, authField, ok2 := strings.Cut(fields, "\x01")
	user, ok3 := strings.CutPrefix(userField, "user=")
	auth, ok4 := strings.CutPrefix(authField, "auth=")
	token, ok5 := bearerToken(auth)
	if !ok || !ok2 || !ok3 || !ok4 || !ok5 {
		return nil, false, malformed(`XOAUTH2 wants "user=USER\x01auth=Bearer TOKEN\x01\x01"`)
	}
	if !x.session.server.checkToken(user, token) {
		x.refused = true
		return []byte(oauthRefusal), false, nil
	}
	x.session.login("XOAUTH2", user)
	return nil, true, nil
}
