package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/smtpkit/smtpkit"
	"github.com/wneessen/go-mail"
)

// session is one client connected to the relay, ready to send.
type session interface {
	// send sends n messages on the connection, one transaction at a time
	// (the batch client: as one batch).
	send(ctx context.Context, n int) error
	// close ends the session with QUIT.
	close(ctx context.Context) error
}

// client is one row of the table.
type client struct {
	key   string // the name -clients takes
	label string // the name in the table
	// pipeliningOnly has the relay (or, on a direct connection, the sink)
	// remove CHUNKING from the EHLO reply.
	pipeliningOnly bool
	// dial connects to addr through d, whose counts are the row's write
	// and read calls.
	dial func(ctx context.Context, d *countingDialer, addr string, msg []byte) (session, error)
}

var clients = []client{
	{key: "smtpkit", label: "smtpkit Send", dial: dialSmtpkit(false)},
	{key: "smtpkit-pipelining", label: "smtpkit Send, PIPELINING only", pipeliningOnly: true, dial: dialSmtpkit(false)},
	{key: "smtpkit-batch", label: "smtpkit SendBatch", dial: dialSmtpkit(true)},
	{key: "smtpkit-batch-pipelining", label: "smtpkit SendBatch, PIPELINING only", pipeliningOnly: true, dial: dialSmtpkit(true)},
	{key: "netsmtp", label: "net/smtp", dial: dialNetSMTP},
	{key: "gosmtp", label: "emersion/go-smtp", dial: dialGoSMTP},
	{key: "gomail", label: "wneessen/go-mail", dial: dialGoMail(false)},
	{key: "gomail-lean", label: "wneessen/go-mail, WithoutNoop+WithoutRset", dial: dialGoMail(true)},
}

const baselineKey = "netsmtp"

// smtpkit: one Client from Dial; Send per message, or SendBatch of all.

type smtpkitSession struct {
	c     *smtpkit.Client
	msg   []byte
	batch bool
}

func dialSmtpkit(batch bool) func(context.Context, *countingDialer, string, []byte) (session, error) {
	return func(ctx context.Context, d *countingDialer, addr string, msg []byte) (session, error) {
		c, err := smtpkit.Dial(ctx, addr, &smtpkit.Options{Security: smtpkit.SecurityNone, LocalName: "localhost", Dialer: d})
		if err != nil {
			return nil, err
		}
		return &smtpkitSession{c: c, msg: msg, batch: batch}, nil
	}
}

func (s *smtpkitSession) send(ctx context.Context, n int) error {
	env := smtpkit.Envelope{From: benchFrom, To: []string{benchTo}}
	if s.batch {
		mails := make([]smtpkit.Mail, n)
		for i := range mails {
			mails[i] = smtpkit.Mail{Envelope: env, Message: bytes.NewReader(s.msg)}
		}
		for i, r := range s.c.SendBatch(ctx, mails) {
			if r.Err != nil {
				return fmt.Errorf("message %d: %w", i, r.Err)
			}
		}
		return nil
	}
	for range n {
		if _, err := s.c.Send(ctx, &env, bytes.NewReader(s.msg)); err != nil {
			return err
		}
	}
	return nil
}

func (s *smtpkitSession) close(ctx context.Context) error { return s.c.Quit(ctx) }

// net/smtp: one smtp.Client; Mail, Rcpt, Data and Close of the data
// writer per message. A transaction that completed needs no RSET before
// the next MAIL; Reset is used only after a failure.

type netSMTPSession struct {
	c   *smtp.Client
	msg []byte
}

func dialNetSMTP(ctx context.Context, d *countingDialer, addr string, msg []byte) (session, error) {
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c, err := smtp.NewClient(nc, "127.0.0.1")
	if err != nil {
		nc.Close()
		return nil, err
	}
	// EHLO now, so that it is not part of the first transaction.
	if err := c.Hello("localhost"); err != nil {
		c.Close()
		return nil, err
	}
	return &netSMTPSession{c: c, msg: msg}, nil
}

func (s *netSMTPSession) send(_ context.Context, n int) error {
	for range n {
		if err := s.one(); err != nil {
			return errors.Join(err, s.c.Reset())
		}
	}
	return nil
}

func (s *netSMTPSession) one() error {
	if err := s.c.Mail(benchFrom); err != nil {
		return err
	}
	if err := s.c.Rcpt(benchTo); err != nil {
		return err
	}
	w, err := s.c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(s.msg); err != nil {
		return err
	}
	return w.Close()
}

func (s *netSMTPSession) close(context.Context) error { return s.c.Quit() }

// emersion/go-smtp: one Client; SendMail (MAIL, RCPT, DATA) per message.

type goSMTPSession struct {
	c   *gosmtp.Client
	msg []byte
}

func dialGoSMTP(ctx context.Context, d *countingDialer, addr string, msg []byte) (session, error) {
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := gosmtp.NewClient(nc)
	if err := c.Hello("localhost"); err != nil {
		c.Close()
		return nil, err
	}
	return &goSMTPSession{c: c, msg: msg}, nil
}

func (s *goSMTPSession) send(_ context.Context, n int) error {
	for range n {
		if err := s.c.SendMail(benchFrom, []string{benchTo}, bytes.NewReader(s.msg)); err != nil {
			return errors.Join(err, s.c.Reset())
		}
	}
	return nil
}

func (s *goSMTPSession) close(context.Context) error { return s.c.Quit() }

// wneessen/go-mail: one Client connected with DialWithContext, then Send
// of one Msg at a time. By default each Send first checks the connection
// with NOOP and each message is followed by RSET; the lean variant turns
// both off with WithoutNoop and WithoutRset.

type goMailSession struct {
	c *mail.Client
	m *mail.Msg
}

func dialGoMail(lean bool) func(context.Context, *countingDialer, string, []byte) (session, error) {
	return func(ctx context.Context, d *countingDialer, addr string, msg []byte) (session, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var p int
		if _, err := fmt.Sscan(port, &p); err != nil {
			return nil, err
		}
		opts := []mail.Option{
			mail.WithPort(p),
			mail.WithTLSPolicy(mail.NoTLS),
			mail.WithHELO("localhost"),
			mail.WithTimeout(time.Minute),
			mail.WithDialContextFunc(d.DialContext),
		}
		if lean {
			opts = append(opts, mail.WithoutNoop(), mail.WithoutRset())
		}
		c, err := mail.NewClient(host, opts...)
		if err != nil {
			return nil, err
		}
		if err := c.DialWithContext(ctx); err != nil {
			return nil, err
		}
		// The same content as the other clients': the body of the
		// benchmark message, with headers that go-mail writes itself.
		m := mail.NewMsg()
		if err := m.From(benchFrom); err != nil {
			return nil, err
		}
		if err := m.To(benchTo); err != nil {
			return nil, err
		}
		m.Subject("benchmark message")
		h := header("benchmark message")
		m.SetBodyString(mail.TypeTextPlain, smallBody(h, len(msg)))
		return &goMailSession{c: c, m: m}, nil
	}
}

func (s *goMailSession) send(_ context.Context, n int) error {
	for range n {
		if err := s.c.Send(s.m); err != nil {
			return err
		}
	}
	return nil
}

func (s *goMailSession) close(context.Context) error { return s.c.Close() }
