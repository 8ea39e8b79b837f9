package sasl

import (
	"fmt"

	gosasl "github.com/emersion/go-sasl"
)

// initialOnly is a go-sasl client whose whole message is its initial
// response (PLAIN, EXTERNAL and ANONYMOUS), behind a label so that printing
// it shows no secret. Any challenge is an error wrapping
// ErrUnexpectedChallenge.
type initialOnly struct {
	label
	client gosasl.Client
}

// Start returns the mechanism and its initial response.
func (c *initialOnly) Start() (string, []byte, error) {
	return c.client.Start()
}

// Next refuses every challenge: the mechanism has said all it has to say.
func (c *initialOnly) Next(challenge []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: %s sends everything in its initial response, and the server sent a challenge", ErrUnexpectedChallenge, c.mechanism)
}
