package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"net/textproto"
	"os"
	"strings"

	"github.com/smtpkit/smtpkit"
	smtpmessage "github.com/smtpkit/smtpkit/message"
)

// composed builds the message the flags describe with package message: a
// text/plain body and, with attachments, a multipart/mixed message.
func (f *sendFlags) composed(stdin io.Reader, from string, rule envelope) (*message, func(), error) {
	if from == "" {
		return nil, nil, usageError{errors.New("no sender: give --from, or set from in the account")}
	}
	sender, err := smtpmessage.ParseAddress(from)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--from: %w", err)}
	}
	if len(rule.to) == 0 {
		return nil, nil, usageError{errors.New("no recipient: give --to, --cc or --bcc")}
	}
	m := &smtpmessage.Message{From: from, To: f.to, Cc: f.cc, Bcc: f.bcc, Subject: f.subject, Text: f.body}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t") || strings.ContainsAny(value, "\r\n") {
			return nil, nil, usageError{fmt.Errorf("--header %q: want Name: value, on one line", h)}
		}
		// The fields the message writes itself are set through it.
		switch textproto.CanonicalMIMEHeaderKey(name) {
		case "Reply-To":
			m.ReplyTo = append(m.ReplyTo, value)
		case "Message-Id":
			m.MessageID = value
		case "Date":
			if m.Date, err = mail.ParseDate(value); err != nil {
				return nil, nil, usageError{fmt.Errorf("--header %q: %w", h, err)}
			}
		default:
			m.Fields = append(m.Fields, smtpmessage.Field{Name: name, Value: value})
		}
	}
	for _, name := range f.attach {
		m.Attachments = append(m.Attachments, smtpmessage.FileAttachment(name))
	}
	switch f.bodyFile {
	case "":
	case "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, nil, inputError{fmt.Errorf("--body-file -: %w", err)}
		}
		m.Text = string(b)
	default:
		b, err := os.ReadFile(f.bodyFile)
		if err != nil {
			return nil, nil, inputError{fmt.Errorf("--body-file: %w", err)}
		}
		m.Text = string(b)
	}
	size, err := m.Size() // opens the attachments: a missing one fails now
	switch {
	case errors.Is(err, smtpmessage.ErrSizeUnknown):
		size = 0 // an attachment that is no regular file: not declared
	case errors.As(err, new(*fs.PathError)):
		return nil, nil, inputError{fmt.Errorf("--attach: %w", err)}
	case err != nil:
		return nil, nil, usageError{err}
	}
	r := m.Reader()
	env := smtpkit.Envelope{From: sender.Addr, To: rule.to, Size: size}
	return &message{source: "composed", env: env, r: r}, func() { r.Close() }, nil
}
