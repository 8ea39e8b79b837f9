package sasl

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"fmt"

	gosasl "github.com/emersion/go-sasl"
)

// cramMD5Client answers the one CRAM-MD5 challenge with the username and
// the keyed digest of the challenge.
type cramMD5Client struct {
	label
	username string
	password string
	answered bool
}

// NewCRAMMD5Client returns a CRAM-MD5 client (RFC 2195) for username and
// password.
//
// CRAM-MD5 does not send the password, but a recorded exchange lets an
// attacker guess it offline, and the server must store it as it is: prefer
// SCRAM where the server offers it.
func NewCRAMMD5Client(username, password string) (gosasl.Client, error) {
	if err := requireUsername(CRAMMD5, username); err != nil {
		return nil, err
	}
	if err := requirePassword(CRAMMD5, password); err != nil {
		return nil, err
	}
	return &cramMD5Client{
		label:    label{mechanism: CRAMMD5, username: username},
		username: username,
		password: password,
	}, nil
}

// Start begins CRAM-MD5, which has no initial response.
func (c *cramMD5Client) Start() (string, []byte, error) {
	c.answered = false
	return CRAMMD5, nil, nil
}

// Next answers the challenge with "username hex(HMAC-MD5(password,
// challenge))", the digest in lower case.
func (c *cramMD5Client) Next(challenge []byte) ([]byte, error) {
	if c.answered {
		return nil, fmt.Errorf("%w: CRAM-MD5 has one challenge, and the server sent another", ErrUnexpectedChallenge)
	}
	c.answered = true
	if len(challenge) == 0 {
		return nil, fmt.Errorf("%w: the CRAM-MD5 challenge is empty, so there is nothing to sign", ErrMalformedChallenge)
	}
	mac := hmac.New(md5.New, []byte(c.password))
	mac.Write(challenge)
	return []byte(c.username + " " + hex.EncodeToString(mac.Sum(nil))), nil
}
