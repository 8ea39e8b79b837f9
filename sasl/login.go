package sasl

import (
	"fmt"

	gosasl "github.com/emersion/go-sasl"
)

// loginClient answers the two challenges of LOGIN with the username, then
// the password.
type loginClient struct {
	label
	username string
	password string
	answered int // how many challenges have been answered
}

// NewLoginClient returns a LOGIN client for username and password.
//
// LOGIN is obsolete and, like PLAIN, sends the password as it is: prefer
// PLAIN, and use either only over TLS. The client sends no initial response
// and answers the first challenge with the username and the second with the
// password, whatever their text says ("Username:" and "Password:" by
// custom); a third challenge is an error.
func NewLoginClient(username, password string) (gosasl.Client, error) {
	if err := requireUsername(Login, username); err != nil {
		return nil, err
	}
	if err := requirePassword(Login, password); err != nil {
		return nil, err
	}
	return &loginClient{
		label:    label{mechanism: Login, username: username},
		username: username,
		password: password,
	}, nil
}

// Start begins LOGIN without an initial response.
func (c *loginClient) Start() (string, []byte, error) {
	c.answered = 0
	return Login, nil, nil
}

// Next answers the username challenge, then the password challenge.
func (c *loginClient) Next(challenge []byte) ([]byte, error) {
	c.answered++
	switch c.answered {
	case 1:
		return []byte(c.username), nil
	case 2:
		return []byte(c.password), nil
	default:
		return nil, fmt.Errorf("%w: LOGIN has two challenges, for the username and the password, and the server sent a third", ErrUnexpectedChallenge)
	}
}
