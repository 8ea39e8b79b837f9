package smtpkit

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/smtpkit/smtpkit/message"
)

// SendMail sends one message in one call: it connects to the server at
// addr, sets up TLS and logs in as opts say, sends msg to the envelope's
// recipients, and quits. msg is streamed, never read whole into memory.
//
// opts is what Dial takes, and nil means the zero Options, whose defaults
// are safe: TLS required (implicit TLS or STARTTLS, whichever the server
// speaks; see Security), certificates verified against the system roots
// (TLSConfig, TLS), no login (set Auth to log in; a password is never sent
// without TLS unless Auth allows it), and RFC 5321's time limits per step
// (ConnectTimeout, GreetingTimeout, CommandTimeout, DataTimeout), with
// Timeout bounding each whole step and the context bounding the call.
// Proxy, Dialer, LocalAddr, Transcript, Logger and Trace work as they do
// for Dial. When addr has no port, 465 is used for SecurityImplicitTLS and
// 587 otherwise.
//
// The Result and error are those of Client.Send: a refused recipient does
// not stop the others, and when all are refused the error is
// ErrAllRecipientsRefused. Once the server has accepted the message, a
// failed QUIT is not reported: the message is on its way, and sending it
// again would deliver it twice.
func SendMail(ctx context.Context, addr string, opts *Options, env *Envelope, msg io.Reader) (*Result, error) {
	if env == nil {
		return nil, fmt.Errorf("smtpkit: SendMail needs an envelope: %w", ErrInvalidArgument)
	}
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	res, err := c.Send(ctx, env, msg)
	c.Quit(ctx) // its error, if any, changes nothing of what happened to the message
	return res, err
}

// SendMessage sends m, composed with package message, as SendMail sends a
// message: its envelope's sender is m.From, its recipients m.To, m.Cc and
// m.Bcc (no Bcc field is written), and it declares the message's size when
// the attachments' lengths are known. With m.EightBit the message is
// declared BODY=8BITMIME, which the server must offer. A message that
// cannot be written (a bad address, an attachment that cannot be read)
// fails before any connection is made. It sets m.Date and m.MessageID when
// they are empty, as m.WriteTo does.
func SendMessage(ctx context.Context, addr string, opts *Options, m *message.Message) (*Result, error) {
	if m == nil {
		return nil, fmt.Errorf("smtpkit: SendMessage needs a message: %w", ErrInvalidArgument)
	}
	e, err := m.Envelope()
	if err != nil {
		return nil, fmt.Errorf("smtpkit: %w", err)
	}
	size, err := m.Size()
	switch {
	case errors.Is(err, message.ErrSizeUnknown):
		size = 0 // not declared
	case err != nil:
		return nil, fmt.Errorf("smtpkit: %w", err)
	}
	env := &Envelope{From: e.From, To: e.To, Size: size}
	if m.EightBit {
		env.Body = Body8BitMIME
	}
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	r := m.Reader()
	res, err := c.Send(ctx, env, r)
	r.Close()
	c.Quit(ctx)
	return res, err
}
