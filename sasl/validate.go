package sasl

import (
	"fmt"
	"strings"
)

// requireUsername checks a username that the mechanism cannot do without.
func requireUsername(mechanism, username string) error {
	if username == "" {
		return fmt.Errorf("%w: %s needs a username, and it is empty: give the account name", ErrInvalidCredentials, mechanism)
	}
	return checkText(mechanism, "username", username)
}

// requirePassword checks a password that the mechanism cannot do without.
// Its only rule is that it is not empty; the message never shows it.
func requirePassword(mechanism, password string) error {
	if password == "" {
		return fmt.Errorf("%w: %s needs a password, and it is empty: give the account's password", ErrInvalidCredentials, mechanism)
	}
	return nil
}

// requireToken checks an OAuth access token. The message never shows it.
func requireToken(mechanism, token string) error {
	if token == "" {
		return fmt.Errorf("%w: %s needs an OAuth access token, and it is empty: get one from your OAuth provider", ErrInvalidCredentials, mechanism)
	}
	if hasControl(token) {
		return fmt.Errorf("%w: the %s access token holds a control character such as CR, LF or NUL: pass the bare token, without line breaks or a \"Bearer\" prefix", ErrInvalidCredentials, mechanism)
	}
	return nil
}

// checkText checks an optional value, such as an authorization identity,
// that goes to the server as text: it may not hold control characters,
// which would let it break out of its field or line.
func checkText(mechanism, what, value string) error {
	if hasControl(value) {
		return fmt.Errorf("%w: the %s %s holds a control character such as CR, LF or NUL: remove it", ErrInvalidCredentials, mechanism, what)
	}
	return nil
}

// hasControl reports whether s holds an ASCII control character (CR, LF,
// NUL, the \x01 that separates OAuth fields, and the like) or DEL.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r == 0x7f
	})
}
