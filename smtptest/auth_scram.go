package smtptest

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/xdg-go/scram"
)

// scramHashes maps the SCRAM mechanism names, without -PLUS, to their hash.
var scramHashes = map[string]scram.HashGeneratorFcn{
	"SCRAM-SHA-1":   scram.SHA1,
	"SCRAM-SHA-256": scram.SHA256,
	"SCRAM-SHA-512": scram.SHA512,
}

// scramServer carries a server conversation of github.com/xdg-go/scram
// over SMTP: it sends the server-final message, with the server's
// signature, as a challenge, and succeeds once the client answers it with
// an empty response.
type scramServer struct {
	session   *session
	mechanism string
	plus      bool
	conv      *scram.ServerConversation
	asked     bool // whether an empty challenge asked for the client-first message
	started   bool // whether the client-first message has come
	sentFinal bool // whether the server-final message has been sent
}

// scramServer returns the server side of a SCRAM mechanism, checking the
// server's Users. A -PLUS mechanism requires the channel binding of this
// connection; a mechanism without -PLUS refuses the "y" flag if the -PLUS
// form is offered here, as a sign that someone removed it from the list
// (RFC 5802, section 6).
func (s *session) scramServer(mech string) (sasl.Server, error) {
	base, plus := strings.CutSuffix(mech, "-PLUS")
	hash, ok := scramHashes[base]
	if !ok {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	server, err := hash.NewServer(s.server.scramCredentials(hash))
	if err != nil {
		return nil, err
	}

	binding, hasBinding := tlsChannelBinding(s.conn)
	var conv *scram.ServerConversation
	switch {
	case plus && !hasBinding:
		return nil, &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "No TLS channel binding on this connection"}
	case plus:
		conv = server.NewConversationWithChannelBindingRequired(binding)
	case hasBinding && slices.Contains(s.AuthMechanisms(), mech+"-PLUS"):
		conv = server.NewConversationWithChannelBinding(binding)
	default:
		conv = server.NewConversation()
	}
	return &scramServer{session: s, mechanism: mech, plus: plus, conv: conv}, nil
}

// Next runs the conversation one step.
func (c *scramServer) Next(response []byte) ([]byte, bool, error) {
	if c.sentFinal {
		if len(response) != 0 {
			return nil, false, malformed("%s: the server-final message is answered with an empty response", c.mechanism)
		}
		c.session.login(c.mechanism, c.conv.Username())
		return nil, true, nil
	}
	if response == nil && !c.asked {
		c.asked = true
		return []byte{}, false, nil
	}

	if !c.started && !c.plus && strings.HasPrefix(string(response), "p=") {
		return nil, false, authFailed("%s: the channel binding flag p needs the -PLUS mechanism", c.mechanism)
	}
	c.started = true
	challenge, err := c.conv.Step(string(response))
	if err != nil {
		// challenge holds the SCRAM error, such as "e=invalid-proof".
		if challenge == "" {
			challenge = "invalid message"
		}
		return nil, false, authFailed("%s: %s", c.mechanism, challenge)
	}
	if c.conv.Valid() {
		if authz := c.conv.AuthzID(); authz != "" && authz != c.conv.Username() {
			return nil, false, authFailed("%s: %q may not act as %q", c.mechanism, c.conv.Username(), authz)
		}
		c.sentFinal = true
	}
	return []byte(challenge), false, nil
}

// scramCredentials returns the credential lookup of an xdg-go/scram server:
// it derives the stored credentials from the user's password, with a new
// salt each time and 4096 iterations, the least clients accept.
func (s *Server) scramCredentials(hash scram.HashGeneratorFcn) scram.CredentialLookup {
	return func(user string) (scram.StoredCredentials, error) {
		password, ok := s.passwordOf(user)
		if !ok {
			return scram.StoredCredentials{}, errors.New("unknown user")
		}
		client, err := hash.NewClient(user, password, "")
		if err != nil {
			return scram.StoredCredentials{}, err
		}
		salt := make([]byte, 16)
		rand.Read(salt)
		return client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: 4096})
	}
}

// tlsChannelBinding returns the channel binding of the connection as the
// server sees it: tls-exporter (RFC 9266) on TLS 1.3, tls-unique
// (RFC 5929) before.
func tlsChannelBinding(conn *smtp.Conn) (scram.ChannelBinding, bool) {
	state, ok := conn.TLSConnectionState()
	if !ok {
		return scram.ChannelBinding{}, false
	}
	if state.Version >= tls.VersionTLS13 {
		binding, err := scram.NewTLSExporterBinding(&state)
		return binding, err == nil
	}
	if len(state.TLSUnique) == 0 {
		return scram.ChannelBinding{}, false
	}
	return scram.NewTLSUniqueBinding(state.TLSUnique), true
}
