package smtptest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// cramMD5Server is the server side of CRAM-MD5 (RFC 2195): it sends a
// challenge and checks "user hex(HMAC-MD5(password, challenge))".
type cramMD5Server struct {
	session   *session
	challenge string
}

// cramMD5Server returns a CRAM-MD5 server checking the server's Users.
func (s *session) cramMD5Server() sasl.Server {
	return &cramMD5Server{session: s}
}

// Next sends the challenge, then checks the answer.
func (c *cramMD5Server) Next(response []byte) ([]byte, bool, error) {
	if c.challenge == "" {
		if response != nil {
			return nil, false, malformed("CRAM-MD5 takes no initial response")
		}
		c.challenge = fmt.Sprintf("<%s.%d@localhost>", rand.Text(), time.Now().Unix())
		return []byte(c.challenge), false, nil
	}

	// The user name may hold spaces; the digest is after the last one.
	i := strings.LastIndexByte(string(response), ' ')
	if i < 0 {
		return nil, false, malformed(`CRAM-MD5 wants "user digest"`)
	}
	user, digest := string(response[:i]), string(response[i+1:])
	password, ok := c.session.server.passwordOf(user)
	if !ok {
		return nil, false, smtp.ErrAuthFailed
	}
	mac := hmac.New(md5.New, []byte(password))
	mac.Write([]byte(c.challenge))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(digest), []byte(want)) {
		return nil, false, smtp.ErrAuthFailed
	}
	c.session.login("CRAM-MD5", user)
	return nil, true, nil
}
