package sasl

import (
	"fmt"
	"strings"

	gosasl "github.com/emersion/go-sasl"
)

// oauthBearerClient lets go-sasl's OAUTHBEARER client write the initial
// response, and answers an error challenge itself as RFC 7628 requires.
type oauthBearerClient struct {
	label
	start     gosasl.Client // go-sasl's client; only its Start is used
	serverErr *OAuthError   // the refusal the server sent, if it sent one
}

// NewOAUTHBEARERClient returns an OAUTHBEARER client (RFC 7628) for
// username (sent as the authorization identity) and an OAuth 2.0 access
// token. host and port name the server the client connects to; leave host
// empty or port 0 to leave either out.
//
// If the server refuses the token, it says why in a JSON challenge; the
// client answers with the single 0x01 byte RFC 7628 requires, and the
// client's Finish method (see [Finisher]) then returns the refusal as an
// [*OAuthError].
func NewOAUTHBEARERClient(username, token, host string, port int) (gosasl.Client, error) {
	if err := requireUsername(OAUTHBEARER, username); err != nil {
		return nil, err
	}
	if err := requireToken(OAUTHBEARER, token); err != nil {
		return nil, err
	}
	if err := checkText(OAUTHBEARER, "host", host); err != nil {
		return nil, err
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: the OAUTHBEARER port %d is not a TCP port: give 1 to 65535, or 0 to leave it out", ErrInvalidCredentials, port)
	}
	return &oauthBearerClient{
		label: label{mechanism: OAUTHBEARER, username: username},
		start: gosasl.NewOAuthBearerClient(&gosasl.OAuthBearerOptions{
			// go-sasl writes the name as it is, but in the GS2 header
			// "," and "=" must be escaped (RFC 5801, section 4).
			Username: escapeSASLName(username),
			Token:    token,
			Host:     host,
			Port:     port,
		}),
	}, nil
}

// Start sends the GS2 header, host, port and token as the initial response.
func (c *oauthBearerClient) Start() (string, []byte, error) {
	c.serverErr = nil
	return c.start.Start()
}

// Next reads the server's JSON refusal and answers it with the single 0x01
// byte RFC 7628 asks for, after which the server fails the exchange.
func (c *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	if c.serverErr != nil {
		return nil, fmt.Errorf("%w: after its refusal the OAUTHBEARER server should end the exchange, and sent another challenge (%w)", ErrUnexpectedChallenge, c.serverErr)
	}
	serverErr, err := parseOAuthError(OAUTHBEARER, challenge)
	if err != nil {
		return nil, err
	}
	c.serverErr = serverErr
	return []byte{0x01}, nil
}

// Finish returns the server's refusal as an *OAuthError, or nil if it sent
// none.
func (c *oauthBearerClient) Finish() error {
	if c.serverErr == nil {
		return nil
	}
	return c.serverErr
}

// escapeSASLName escapes "=" and "," in a GS2 saslname as "=3D" and "=2C".
func escapeSASLName(name string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(name)
}
