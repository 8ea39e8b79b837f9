package sasl

import (
	"crypto/tls"
	"fmt"
	"strings"

	gosasl "github.com/emersion/go-sasl"
	"github.com/xdg-go/scram"
)

// scramHashes maps the SCRAM mechanism names, without -PLUS, to their hash.
var scramHashes = map[string]scram.HashGeneratorFcn{
	SCRAMSHA1:   scram.SHA1,
	SCRAMSHA256: scram.SHA256,
	SCRAMSHA512: scram.SHA512,
}

// scramClient runs one SCRAM conversation of github.com/xdg-go/scram in the
// shape of a SASL client, and remembers whether the server proved itself.
type scramClient struct {
	label
	mechanism string
	client    *scram.Client
	binding   scram.ChannelBinding // for -PLUS: the TLS channel binding
	advertise bool                 // without -PLUS: send GS2 flag "y", not "n"
	conv      *scram.ClientConversation
	answered  int  // how many challenges have been answered
	verified  bool // whether the server's signature has been verified
}

// NewSCRAMClient returns a SCRAM client (RFC 5802, RFC 7677) for mechanism,
// one of SCRAM-SHA-1, SCRAM-SHA-256 and SCRAM-SHA-512, each with or without
// -PLUS. authzID is the authorization identity: leave it empty to act as
// username itself. The username, password and authzID are normalized with
// SASLprep.
//
// tlsState is the state of the TLS connection the exchange runs over, after
// its handshake, or nil. (go-smtp does the STARTTLS handshake only with the
// next command, so send one, such as EHLO, before reading the state.) A
// -PLUS mechanism needs it: it binds the exchange to the connection
// with tls-exporter (RFC 9266) on TLS 1.3 and tls-unique (RFC 5929) on
// TLS 1.2, so a man in the middle cannot relay it; without it the error
// wraps [ErrNoChannelBinding]. Given to a mechanism without -PLUS, it makes
// the client tell the server that it could have bound the exchange (the GS2
// "y" flag of RFC 5802), so that a server which did offer -PLUS can detect
// that someone removed it from the list; pass it only when the server did
// not advertise the -PLUS form.
//
// The client checks the server's final signature, which proves the server
// knows the password; a signature that does not verify is an error wrapping
// [ErrServerSignature]. The client implements [Finisher]: after a success
// reply, Finish returns an error if the server never proved itself.
func NewSCRAMClient(mechanism, username, password, authzID string, tlsState *tls.ConnectionState) (gosasl.Client, error) {
	name := strings.ToUpper(mechanism)
	base, plus := strings.CutSuffix(name, "-PLUS")
	hash, ok := scramHashes[base]
	if !ok {
		return nil, fmt.Errorf("sasl: %q is not a SCRAM mechanism this package knows: use SCRAM-SHA-1, SCRAM-SHA-256 or SCRAM-SHA-512, with or without -PLUS", mechanism)
	}
	if err := requireUsername(name, username); err != nil {
		return nil, err
	}
	if err := requirePassword(name, password); err != nil {
		return nil, err
	}
	if err := checkText(name, "authorization identity", authzID); err != nil {
		return nil, err
	}
	client, err := hash.NewClient(username, password, authzID)
	if err != nil {
		// xdg-go/scram's message names the field that failed and never
		// holds the password.
		return nil, fmt.Errorf("%w: %s: SASLprep (RFC 4013) refused the credentials: %v", ErrInvalidCredentials, name, err)
	}

	c := &scramClient{
		label:     label{mechanism: name, username: username},
		mechanism: name,
		client:    client,
	}
	if plus {
		c.binding, err = channelBinding(tlsState)
		if err != nil {
			return nil, fmt.Errorf("sasl: %s: %w", name, err)
		}
	} else if tlsState != nil {
		_, err := channelBinding(tlsState)
		c.advertise = err == nil
	}
	return c, nil
}

// Start sends the client-first message.
func (c *scramClient) Start() (string, []byte, error) {
	switch {
	case c.binding.IsSupported():
		c.conv = c.client.NewConversationWithChannelBinding(c.binding)
	case c.advertise:
		c.conv = c.client.NewConversationAdvertisingChannelBinding()
	default:
		c.conv = c.client.NewConversation()
	}
	c.answered = 0
	c.verified = false
	first, err := c.conv.Step("")
	if err != nil {
		return "", nil, fmt.Errorf("sasl: %s: writing the first message: %v", c.mechanism, err)
	}
	return c.mechanism, []byte(first), nil
}

// Next answers the server-first message with the client proof, then checks
// the server-final message and answers it with an empty response.
func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	if c.conv == nil {
		return nil, fmt.Errorf("%w: %s: Next was called before Start", ErrUnexpectedChallenge, c.mechanism)
	}
	c.answered++
	switch c.answered {
	case 1:
		final, err := c.conv.Step(string(challenge))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: cannot answer the server's first message: %v", ErrMalformedChallenge, c.mechanism, err)
		}
		return []byte(final), nil
	case 2:
		return c.checkServerFinal(string(challenge))
	default:
		return nil, fmt.Errorf("%w: %s has two challenges, and the server sent a third", ErrUnexpectedChallenge, c.mechanism)
	}
}

// checkServerFinal verifies the server's signature in the server-final
// message.
func (c *scramClient) checkServerFinal(serverFinal string) ([]byte, error) {
	if reason, ok := strings.CutPrefix(serverFinal, "e="); ok {
		return nil, fmt.Errorf("sasl: %s: the server refused the exchange with %q: check the username and password, and for -PLUS that nothing between you and the server ends TLS", c.mechanism, reason)
	}
	if _, err := c.conv.Step(serverFinal); err != nil {
		return nil, fmt.Errorf("%w (%s: %v)", ErrServerSignature, c.mechanism, err)
	}
	c.verified = true
	return []byte{}, nil
}

// Finish returns nil if the server's signature was verified, and an error
// wrapping ErrServerSignature otherwise.
func (c *scramClient) Finish() error {
	if c.verified {
		return nil
	}
	return fmt.Errorf("%w (%s: the exchange ended before the server sent a signature that verifies)", ErrServerSignature, c.mechanism)
}
