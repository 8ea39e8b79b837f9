package sasl

import (
	"fmt"
	"io"
)

// label names a client when it is printed. Every client embeds one, so that
// fmt prints "sasl PLAIN client for "alice"" instead of the client's fields,
// which hold its password or token.
type label struct {
	mechanism string
	username  string
}

// String returns the mechanism and username, never a secret.
func (l label) String() string {
	if l.username == "" {
		return fmt.Sprintf("sasl %s client", l.mechanism)
	}
	return fmt.Sprintf("sasl %s client for %q", l.mechanism, l.username)
}

// Format prints String for every verb, %#v and %+v included, so that no
// formatting verb can reach the fields holding secrets.
func (l label) Format(f fmt.State, verb rune) {
	io.WriteString(f, l.String())
}
