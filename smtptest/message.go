package smtptest

import (
	"bytes"
	"slices"

	"github.com/emersion/go-smtp"
)

// Message is one message delivered to a Server.
type Message struct {
	// From is the address given in MAIL FROM.
	From string
	// To holds the addresses given in RCPT TO, in order.
	To []string
	// Data is the message content as the client sent it after DATA or BDAT.
	Data []byte
	// Options holds the parameters of MAIL FROM, such as SIZE or BODY.
	Options smtp.MailOptions
	// User is the name the client authenticated as, or "" if it did not.
	User string
	// Mechanism is the SASL mechanism the client authenticated with, such
	// as "SCRAM-SHA-256-PLUS", or "" if it did not.
	Mechanism string
	// TLS reports whether the connection was protected by TLS (implicit TLS
	// or after STARTTLS) when the message was delivered.
	TLS bool
}

// clone returns a copy of m that shares no memory with it.
func (m Message) clone() Message {
	m.To = slices.Clone(m.To)
	m.Data = bytes.Clone(m.Data)
	if m.Options.Auth != nil {
		auth := *m.Options.Auth
		m.Options.Auth = &auth
	}
	return m
}
