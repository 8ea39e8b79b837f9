package sasl

import (
	"fmt"

	gosasl "github.com/emersion/go-sasl"
)

// xoauth2Client sends the username and token at once, and answers an error
// challenge as Google and Microsoft require.
type xoauth2Client struct {
	label
	username  string
	token     string
	serverErr *OAuthError // the refusal the server sent, if it sent one
}

// NewXOAUTH2Client returns an XOAUTH2 client, the OAuth 2.0 mechanism of
// Google and Microsoft, for username (the mailbox address) and an OAuth 2.0
// access token.
//
// If the server refuses the token, it says why in a JSON challenge; the
// client answers with the empty response the server expects, and the
// client's Finish method (see [Finisher]) then returns the refusal as an
// [*OAuthError].
func NewXOAUTH2Client(username, token string) (gosasl.Client, error) {
	if err := requireUsername(XOAUTH2, username); err != nil {
		return nil, err
	}
	if err := requireToken(XOAUTH2, token); err != nil {
		return nil, err
	}
	return &xoauth2Client{
		label:    label{mechanism: XOAUTH2, username: username},
		username: username,
		token:    token,
	}, nil
}

// Start sends "user=USERNAME\x01auth=Bearer TOKEN\x01\x01" as the initial
// response.
func (c *xoauth2Client) Start() (string, []byte, error) {
	c.serverErr = nil
	ir := "user=" + c.username + "\x01auth=Bearer " + c.token + "\x01\x01"
	return XOAUTH2, []byte(ir), nil
}

// Next reads the server's JSON refusal and answers it with an empty
// response, after which the server fails the exchange.
func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	if c.serverErr != nil {
		return nil, fmt.Errorf("%w: after its refusal the XOAUTH2 server should end the exchange, and sent another challenge (%w)", ErrUnexpectedChallenge, c.serverErr)
	}
	serverErr, err := parseOAuthError(XOAUTH2, challenge)
	if err != nil {
		return nil, err
	}
	c.serverErr = serverErr
	return []byte{}, nil
}

// Finish returns the server's refusal as an *OAuthError, or nil if it sent
// none.
func (c *xoauth2Client) Finish() error {
	if c.serverErr == nil {
		return nil
	}
	return c.serverErr
}
