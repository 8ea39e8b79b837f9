package sasl

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// OAuthError is the refusal an XOAUTH2 or OAUTHBEARER server sends as a
// JSON challenge when it does not accept a token (RFC 7628, section 3.2.2).
// It holds only what the server said, never the token.
type OAuthError struct {
	// Mechanism is XOAUTH2 or OAUTHBEARER.
	Mechanism string
	// Status is the server's "status" field, such as "401" or
	// "invalid_token".
	Status string
	// Scope is the server's "scope" field: the scope a token needs, if the
	// server says.
	Scope string
	// Schemes is the server's "schemes" field, such as "Bearer".
	Schemes string
}

// Error says that the server refused the token, with its status and scope,
// and what to do.
func (e *OAuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sasl: %s: the server refused the access token (status %q", e.Mechanism, e.Status)
	if e.Scope != "" {
		fmt.Fprintf(&b, ", scope %q", e.Scope)
	}
	b.WriteString("): it may have expired or lack the scope the server needs; get a new token and try again")
	return b.String()
}

// parseOAuthError reads the JSON error challenge of an XOAUTH2 or
// OAUTHBEARER server. It accepts strings or numbers as field values, since
// servers differ.
func parseOAuthError(mechanism string, challenge []byte) (*OAuthError, error) {
	var fields map[string]any
	if err := json.Unmarshal(challenge, &fields); err != nil {
		return nil, fmt.Errorf("%w: the %s server sent a challenge that is not the expected JSON error object (%v)", ErrMalformedChallenge, mechanism, err)
	}
	return &OAuthError{
		Mechanism: mechanism,
		Status:    jsonText(fields["status"]),
		Scope:     jsonText(fields["scope"]),
		Schemes:   jsonText(fields["schemes"]),
	}, nil
}

// jsonText turns a decoded JSON value into text: a string as it is, a number
// in its shortest form, anything else in JSON.
func jsonText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
