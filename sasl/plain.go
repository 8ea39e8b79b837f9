package sasl

import (
	"fmt"
	"strings"

	gosasl "github.com/emersion/go-sasl"
)

// NewPlainClient returns a PLAIN client (RFC 4616) for username and
// password. identity is the authorization identity: leave it empty to act
// as username itself.
//
// PLAIN sends the password as it is, so use it only over TLS.
func NewPlainClient(identity, username, password string) (gosasl.Client, error) {
	if err := requireUsername(Plain, username); err != nil {
		return nil, err
	}
	if err := checkText(Plain, "authorization identity", identity); err != nil {
		return nil, err
	}
	if err := requirePassword(Plain, password); err != nil {
		return nil, err
	}
	// PLAIN separates its three fields with NUL, so a NUL in the password
	// would change the message.
	if strings.ContainsRune(password, 0) {
		return nil, fmt.Errorf("%w: the PLAIN password holds a NUL character, which PLAIN cannot carry: use another mechanism or change the password", ErrInvalidCredentials)
	}
	return &initialOnly{
		label:  label{mechanism: Plain, username: username},
		client: gosasl.NewPlainClient(identity, username, password),
	}, nil
}
