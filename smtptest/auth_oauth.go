package smtptest

import (
	"crypto/subtle"
	"strings"
)

// oauthRefusal is the JSON error challenge XOAUTH2 and OAUTHBEARER send
// for a wrong token, in the form Google's servers use.
const oauthRefusal = `{"status":"401","schemes":"Bearer","scope":"smtptest"}`

// checkToken reports whether token is a valid OAuth token of user.
func (s *Server) checkToken(user, token string) bool {
	want, ok := s.tokens[user]
	return ok && want != "" && subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}

// userOfToken returns the user whose token is token, for an OAUTHBEARER
// client that does not say who it is.
func (s *Server) userOfToken(token string) (string, bool) {
	for user := range s.tokens {
		if s.checkToken(user, token) {
			return user, true
		}
	}
	return "", false
}

// bearerToken returns the token of an "auth=" value "Bearer TOKEN"; the
// scheme name is case-insensitive (RFC 7628, section 3.1).
func bearerToken(auth string) (string, bool) {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
