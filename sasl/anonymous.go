package sasl

import (
	"fmt"
	"unicode/utf8"

	gosasl "github.com/emersion/go-sasl"
)

// NewAnonymousClient returns an ANONYMOUS client (RFC 4505). trace is what
// the server may log about who is connecting, by custom an email address;
// it may be empty, and has at most 255 characters.
func NewAnonymousClient(trace string) (gosasl.Client, error) {
	if err := checkText(Anonymous, "trace", trace); err != nil {
		return nil, err
	}
	if !utf8.ValidString(trace) || utf8.RuneCountInString(trace) > 255 {
		return nil, fmt.Errorf("%w: the ANONYMOUS trace must be UTF-8 of at most 255 characters (RFC 4505): shorten it", ErrInvalidCredentials)
	}
	return &initialOnly{
		label:  label{mechanism: Anonymous},
		client: gosasl.NewAnonymousClient(trace),
	}, nil
}
