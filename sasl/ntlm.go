package sasl

import (
	"fmt"
	"strings"

	ntlmssp "github.com/Azure/go-ntlmssp"
	gosasl "github.com/emersion/go-sasl"
)

// ntlmClient sends an NTLM NEGOTIATE message, then answers the server's
// CHALLENGE message with an NTLMv2 AUTHENTICATE message made by
// github.com/Azure/go-ntlmssp.
type ntlmClient struct {
	label
	username string
	password string
	answered bool
}

// NewNTLMClient returns an NTLM client (MS-SMTPNTLM) for username and
// password. Write a Windows domain account as "DOMAIN\user"; a plain "user"
// or "user@example.com" is sent without a domain.
//
// The client answers with NTLMv2 only, and refuses servers that ask for
// NTLMv1 or key exchange. NTLM is weak: use it only over TLS, and only for
// servers that offer nothing better.
func NewNTLMClient(username, password string) (gosasl.Client, error) {
	if err := requireUsername(NTLM, username); err != nil {
		return nil, err
	}
	if domain, user, ok := strings.Cut(username, `\`); ok && (domain == "" || user == "") {
		return nil, fmt.Errorf(`%w: the NTLM username %q has an empty domain or user around the backslash: write it as DOMAIN\user`, ErrInvalidCredentials, username)
	}
	if err := requirePassword(NTLM, password); err != nil {
		return nil, err
	}
	return &ntlmClient{
		label:    label{mechanism: NTLM, username: username},
		username: username,
		password: password,
	}, nil
}

// Start sends the NEGOTIATE message as the initial response.
func (c *ntlmClient) Start() (string, []byte, error) {
	c.answered = false
	negotiate, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return "", nil, fmt.Errorf("sasl: NTLM: writing the NEGOTIATE message: %v", err)
	}
	return NTLM, negotiate, nil
}

// Next answers the server's CHALLENGE message with the AUTHENTICATE message.
func (c *ntlmClient) Next(challenge []byte) ([]byte, error) {
	if c.answered {
		return nil, fmt.Errorf("%w: NTLM has one challenge, and the server sent another", ErrUnexpectedChallenge)
	}
	c.answered = true
	// The domain, if any, is split from "DOMAIN\user" by go-ntlmssp.
	// Its errors describe the challenge, never the password.
	authenticate, err := ntlmssp.NewAuthenticateMessage(challenge, c.username, c.password, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: NTLM: cannot answer the server's CHALLENGE message: %v", ErrMalformedChallenge, err)
	}
	return authenticate, nil
}
