package sasl

import "errors"

// ErrInvalidCredentials is wrapped by every constructor error about the
// credentials given to it: an empty username or password, or a character
// the mechanism cannot carry.
var ErrInvalidCredentials = errors.New("sasl: invalid credentials")

// ErrUnexpectedChallenge is wrapped when the server sends a challenge at a
// point where the mechanism expects none, such as a third LOGIN challenge.
var ErrUnexpectedChallenge = errors.New("sasl: the server sent a challenge the mechanism does not expect")

// ErrMalformedChallenge is wrapped when a challenge cannot be understood or
// asks for something the mechanism must refuse.
var ErrMalformedChallenge = errors.New("sasl: the server sent a malformed challenge")

// ErrServerSignature is wrapped when a SCRAM server's final message does not
// prove that the server knows the password, or never comes.
var ErrServerSignature = errors.New("sasl: the server could not prove it knows the password: it may not be the server you meant")

// ErrNoChannelBinding is wrapped when a SCRAM -PLUS mechanism cannot get
// channel binding data from the TLS connection.
var ErrNoChannelBinding = errors.New("sasl: no TLS channel binding data is available")
