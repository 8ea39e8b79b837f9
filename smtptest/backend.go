package smtptest

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/emersion/go-smtp"
)

// session is the default in-memory go-smtp session of a Server: it accepts
// any sender and recipient and records each delivered message.
type session struct {
	server *Server
	conn   *smtp.Conn
	user   string // who authenticated, "" if nobody did
	mech   string // the mechanism they authenticated with, "" if none
	msg    *Message
}

// newSession is the default go-smtp backend of a Server.
func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{server: s, conn: c}, nil
}

// Mail starts a new message; it requires authentication if the server
// offers any mechanism.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if len(s.server.mechanisms) > 0 && s.mech == "" {
		return smtp.ErrAuthRequired
	}
	s.msg = &Message{From: from, User: s.user, Mechanism: s.mech}
	if opts != nil {
		s.msg.Options = *opts
	}
	return nil
}

// Rcpt adds a recipient to the current message.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.msg == nil {
		return fmt.Errorf("smtptest: RCPT TO before MAIL FROM")
	}
	if slices.ContainsFunc(s.server.refused, func(a string) bool { return strings.EqualFold(a, to) }) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "<" + to + ">: no such user here"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

// Data reads the message content and records the message.
func (s *session) Data(r io.Reader) error {
	if s.msg == nil {
		return fmt.Errorf("smtptest: DATA before MAIL FROM")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = data
	_, s.msg.TLS = s.conn.TLSConnectionState()
	s.server.record(*s.msg)
	s.msg = nil
	return nil
}

// Reset forgets the message in progress.
func (s *session) Reset() {
	s.msg = nil
}

// Logout does nothing: the session holds no resources.
func (s *session) Logout() error {
	return nil
}
