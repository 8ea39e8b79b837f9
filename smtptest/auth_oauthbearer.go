package smtptest

import (
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// oauthBearerServer is the server side of OAUTHBEARER (RFC 7628): it checks
// "n,a=USER,\x01host=...\x01port=...\x01auth=Bearer TOKEN\x01\x01" against
// the server's Tokens. A wrong token gets the JSON error challenge, and 535
// after the client's 0x01 response.
type oauthBearerServer struct {
	session *session
	asked   bool // whether an empty challenge asked for the response
	refused bool // whether the error challenge has been sent
}

// oauthBearerServer returns an OAUTHBEARER server checking the server's
// Tokens.
func (s *session) oauthBearerServer() sasl.Server {
	return &oauthBearerServer{session: s}
}

// Next checks the client's response, or ends the error flow.
func (o *oauthBearerServer) Next(response []byte) ([]byte, bool, error) {
	if o.refused {
		if string(response) != "\x01" {
			return nil, false, malformed("OAUTHBEARER error challenges are answered with a single 0x01 byte (RFC 7628, section 3.2.3)")
		}
		return nil, false, smtp.ErrAuthFailed
	}
	if response == nil && !o.asked {
		o.asked = true
		return []byte{}, false, nil
	}

	user, token, err := parseOAuthBearer(string(response))
	if err != nil {
		return nil, false, err
	}
	if user == "" {
		user, _ = o.session.server.userOfToken(token)
	}
	if !o.session.server.checkToken(user, token) {
		o.refused = true
		return []byte(oauthRefusal), false, nil
	}
	o.session.login("OAUTHBEARER", user)
	return nil, true, nil
}

// parseOAuthBearer returns the authorization identity, which may be empty,
// and the token of an OAUTHBEARER initial response.
func parseOAuthBearer(response string) (user, token string, err error) {
	// The GS2 header: a channel binding flag ("n" or "y": OAUTHBEARER has
	// no channel binding), the optional "a=USER", and a comma.
	flag, rest, ok1 := strings.Cut(response, ",")
	authzid, rest, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 || (flag != "n" && flag != "y") {
		return "", "", malformed(`OAUTHBEARER wants a GS2 header such as "n,a=USER,"`)
	}
	if authzid != "" {
		name, ok := strings.CutPrefix(authzid, "a=")
		if !ok {
			return "", "", malformed(`the OAUTHBEARER authorization identity starts with "a="`)
		}
		if user, ok = decodeSASLName(name); !ok {
			return "", "", malformed(`the OAUTHBEARER authorization identity escapes only "=" and "," as =3D and =2C`)
		}
	}

	// Then \x01-separated key=value pairs, ended by \x01\x01.
	pairs, ok := strings.CutPrefix(rest, "\x01")
	pairs, ok2 = strings.CutSuffix(pairs, "\x01\x01")
	if !ok || !ok2 {
		return "", "", malformed(`OAUTHBEARER wants "\x01key=value...\x01\x01" after the GS2 header`)
	}
	for pair := range strings.SplitSeq(pairs, "\x01") {
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return "", "", malformed("OAUTHBEARER wants key=value pairs")
		}
		if key == "auth" {
			if token, ok = bearerToken(value); !ok {
				return "", "", malformed(`OAUTHBEARER wants "auth=Bearer TOKEN"`)
			}
		}
	}
	if token == "" {
		return "", "", malformed(`OAUTHBEARER wants an "auth=Bearer TOKEN" pair`)
	}
	return user, token, nil
}

// decodeSASLName undoes the =2C and =3D escapes of a GS2 saslname
// (RFC 5801, section 4); it fails on any other "=".
func decodeSASLName(name string) (string, bool) {
	var b strings.Builder
	for {
		before, after, found := strings.Cut(name, "=")
		b.WriteString(before)
		if !found {
			return b.String(), true
		}
		switch {
		case strings.HasPrefix(after, "2C"):
			b.WriteByte(',')
		case strings.HasPrefix(after, "3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		name = after[2:]
	}
}
