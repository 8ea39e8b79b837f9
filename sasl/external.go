package sasl

import gosasl "github.com/emersion/go-sasl"

// NewExternalClient returns an EXTERNAL client (RFC 4422, appendix A), which
// asks the server to use credentials it already has from outside SASL,
// usually the TLS client certificate. identity is the authorization
// identity: leave it empty to act as the identity of those credentials.
func NewExternalClient(identity string) (gosasl.Client, error) {
	if err := checkText(External, "authorization identity", identity); err != nil {
		return nil, err
	}
	return &initialOnly{
		label:  label{mechanism: External, username: identity},
		client: gosasl.NewExternalClient(identity),
	}, nil
}
