package smtpkit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit/message"
)

// Envelope says who a message is from and to, and how it should travel.
type Envelope struct {
	// From is the reverse-path; empty means the null sender "<>" of bounces.
	From string
	// To lists the recipients; at least one.
	To []string
	// Size declares the message size in bytes with SIZE=, so a server with a
	// smaller limit refuses before any data is sent. Zero means: taken from
	// the reader when it has a Len method (bytes.Reader, strings.Reader,
	// bytes.Buffer), otherwise not declared.
	Size int64
	// Body declares the body type: empty (7-bit), Body8BitMIME or BodyBinaryMIME.
	Body Body
	// DSN asks for delivery status notifications (RFC 3461); nil asks for none.
	DSN *DSN
	// RequireTLS asks that the message travel only over TLS all the way (RFC 8689).
	RequireTLS bool
}

// Body is the body type declared with BODY=.
type Body string

// The body types of RFC 6152 and RFC 3030.
const (
	Body7Bit       Body = "7BIT"
	Body8BitMIME   Body = "8BITMIME"
	BodyBinaryMIME Body = "BINARYMIME" // sent with BDAT, byte for byte, without line-ending normalisation
)

// DSN holds the delivery status notification requests of RFC 3461.
type DSN struct {
	// Return is "FULL" or "HDRS": how much of the message a notification carries.
	Return string
	// EnvelopeID identifies the message in notifications (ENVID).
	EnvelopeID string
	// Notify is "NEVER", or any of "SUCCESS", "FAILURE" and "DELAY", for every recipient.
	Notify []string
	// OriginalRecipients sends each recipient's address as ORCPT.
	OriginalRecipients bool
}

// needsUTF8 reports whether any envelope address holds non-ASCII bytes,
// which only a server with SMTPUTF8 (RFC 6531) may receive.
func (e *Envelope) needsUTF8() bool {
	nonASCII := func(a string) bool {
		for i := 0; i < len(a); i++ {
			if a[i] >= 0x80 {
				return true
			}
		}
		return false
	}
	return nonASCII(e.From) || slices.ContainsFunc(e.To, nonASCII)
}

// checkAddress checks an envelope address with the rules of package
// message, the one set every address smtpkit reads is held to; "" is the
// null sender, allowed for the sender only. The error matches both
// ErrInvalidArgument and message.ErrInvalidAddress.
func checkAddress(what, a string) error {
	if a == "" && what == "sender" {
		return nil
	}
	if err := message.CheckAddress(a); err != nil {
		return fmt.Errorf("%s: %w: %w", what, err, ErrInvalidArgument)
	}
	return nil
}

// mailArgs checks the envelope against the server's capabilities and builds
// the arguments of MAIL FROM and of each RCPT TO. Nothing is sent when it
// fails.
func (e *Envelope) mailArgs(caps Capabilities, tls bool, size int64) (mail []string, rcpts [][]string, err error) {
	if err := e.Validate(); err != nil {
		return nil, nil, err
	}
	mail = make([]string, 1, 4) // room for SIZE, BODY and SMTPUTF8
	mail[0] = "FROM:<" + e.From + ">"
	need := func(ext, why string) error {
		if !caps.Has(ext) {
			return fmt.Errorf("%s needs the server's %s extension, which it does not offer: %w", why, ext, ErrNotSupported)
		}
		return nil
	}
	if size > 0 {
		if limit, ok := caps.Size(); ok {
			if limit > 0 && size > limit {
				return nil, nil, fmt.Errorf("the message is %d bytes and the server takes at most %d: %w", size, limit, ErrMessageTooLarge)
			}
			mail = append(mail, "SIZE="+strconv.FormatInt(size, 10))
		}
	}
	switch e.Body {
	case "", Body7Bit:
		if e.Body != "" {
			mail = append(mail, "BODY=7BIT")
		}
	case Body8BitMIME:
		if err := need("8BITMIME", "BODY=8BITMIME"); err != nil {
			return nil, nil, err
		}
		mail = append(mail, "BODY=8BITMIME")
	case BodyBinaryMIME:
		if err := need("BINARYMIME", "BODY=BINARYMIME"); err != nil {
			return nil, nil, err
		}
		if err := need("CHUNKING", "BODY=BINARYMIME"); err != nil {
			return nil, nil, err
		}
		mail = append(mail, "BODY=BINARYMIME")
	}
	if e.needsUTF8() {
		if err := need("SMTPUTF8", "an address with non-ASCII characters"); err != nil {
			return nil, nil, err
		}
		mail = append(mail, "SMTPUTF8")
	}
	if e.RequireTLS {
		if !tls {
			return nil, nil, fmt.Errorf("REQUIRETLS asked for on a connection without TLS: %w", ErrNotSupported)
		}
		if err := need("REQUIRETLS", "REQUIRETLS"); err != nil {
			return nil, nil, err
		}
		mail = append(mail, "REQUIRETLS")
	}
	var notify string
	if d := e.DSN; d != nil {
		if err := need("DSN", "a delivery status notification request"); err != nil {
			return nil, nil, err
		}
		if d.Return != "" {
			mail = append(mail, "RET="+strings.ToUpper(d.Return))
		}
		if d.EnvelopeID != "" {
			mail = append(mail, "ENVID="+xtext(d.EnvelopeID))
		}
		if notify, err = notifyParam(d.Notify); err != nil {
			return nil, nil, err
		}
	}
	rcpts = make([][]string, 0, len(e.To))
	for _, to := range e.To {
		args := []string{"TO:<" + to + ">"}
		if notify != "" {
			args = append(args, "NOTIFY="+notify)
		}
		if e.DSN != nil && e.DSN.OriginalRecipients {
			args = append(args, "ORCPT=rfc822;"+xtext(to))
		}
		rcpts = append(rcpts, args)
	}
	return mail, rcpts, nil
}

// Validate reports what keeps any server from taking the envelope, before
// anything is sent: no recipient, an address that breaks the rules of
// package message (CR, LF and NUL included), an unknown body type or DSN
// value. The error matches ErrInvalidArgument. What depends on the server
// (SIZE, extensions) is checked by Send against its capabilities.
func (e *Envelope) Validate() error {
	if len(e.To) == 0 {
		return fmt.Errorf("the envelope has no recipient: %w", ErrInvalidArgument)
	}
	if err := checkAddress("sender", e.From); err != nil {
		return err
	}
	for _, to := range e.To {
		if err := checkAddress("recipient", to); err != nil {
			return err
		}
	}
	switch e.Body {
	case "", Body7Bit, Body8BitMIME, BodyBinaryMIME:
	default:
		return fmt.Errorf("unknown body type %q (want 7BIT, 8BITMIME or BINARYMIME): %w", e.Body, ErrInvalidArgument)
	}
	if d := e.DSN; d != nil {
		if r := strings.ToUpper(d.Return); r != "" && r != "FULL" && r != "HDRS" {
			return fmt.Errorf("DSN Return %q: want FULL or HDRS: %w", d.Return, ErrInvalidArgument)
		}
		if _, err := notifyParam(d.Notify); err != nil {
			return err
		}
	}
	return nil
}

func notifyParam(n []string) (string, error) {
	if len(n) == 0 {
		return "", nil
	}
	seen := map[string]bool{}
	for _, v := range n {
		v = strings.ToUpper(v)
		switch v {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
		default:
			return "", fmt.Errorf("DSN Notify %q: want NEVER, SUCCESS, FAILURE or DELAY: %w", v, ErrInvalidArgument)
		}
		seen[v] = true
	}
	if seen["NEVER"] && len(seen) > 1 {
		return "", fmt.Errorf("DSN Notify NEVER cannot be combined with other values: %w", ErrInvalidArgument)
	}
	var out []string
	for _, v := range []string{"NEVER", "SUCCESS", "FAILURE", "DELAY"} {
		if seen[v] {
			out = append(out, v)
		}
	}
	return strings.Join(out, ","), nil
}

// xtext encodes s as RFC 3461 xtext: "+", "=" and bytes outside "!".."~" become "+XX".
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
