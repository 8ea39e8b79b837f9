package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/smtpkit/smtpkit/smtptest"
)

// plainServer starts a plaintext smtptest server.
func plainServer(t *testing.T) *smtptest.Server {
	t.Helper()
	srv := smtptest.NewServer(smtptest.Plain)
	t.Cleanup(srv.Close)
	return srv
}

// picky is a plaintext server that refuses recipients whose local part
// starts with "nobody" (550 5.1.1) or "later" (451 4.2.0), and records the
// messages it takes.
type picky struct {
	*smtptest.Server
	mu       sync.Mutex
	messages []smtptest.Message
}

func pickyServer(t *testing.T) *picky {
	t.Helper()
	p := &picky{Server: smtptest.NewUnstartedServer(smtptest.Plain)}
	p.Config.Backend = smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &pickySession{p: p}, nil })
	p.Start()
	t.Cleanup(p.Close)
	return p
}

func (p *picky) received() []smtptest.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]smtptest.Message(nil), p.messages...)
}

type pickySession struct {
	p   *picky
	msg smtptest.Message
}

func (s *pickySession) Reset()        { s.msg = smtptest.Message{} }
func (s *pickySession) Logout() error { return nil }

func (s *pickySession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg = smtptest.Message{From: from}
	return nil
}

func (s *pickySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "nobody"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	case strings.HasPrefix(to, "later"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "mailbox busy, try later"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *pickySession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = data
	s.p.mu.Lock()
	s.p.messages = append(s.p.messages, s.msg)
	s.p.mu.Unlock()
	return nil
}

// scripted starts a plaintext server that greets with replies["greeting"]
// (default 220), answers EHLO with replies["EHLO"] (default a bare 250:
// no extensions), each other command with replies[VERB] (default 250),
// and the end of the data with replies["."] (default 250).
func scripted(t *testing.T, replies map[string]string) *smtptest.RawServer {
	t.Helper()
	reply := func(key, def string) string {
		if r, ok := replies[key]; ok {
			return r
		}
		return def
	}
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		greeting := reply("greeting", "220 scripted.test ESMTP")
		if c.Send(greeting) != nil || !strings.HasPrefix(greeting, "220") {
			c.WaitClose()
			return
		}
		for {
			line, err := c.ReadLine()
			if err != nil {
				return
			}
			verb, _, _ := strings.Cut(line, " ")
			verb = strings.ToUpper(verb)
			switch verb {
			case "QUIT":
				c.Send("221 bye")
				return
			case "EHLO":
				c.Send(reply("EHLO", "250 scripted.test"))
			case "DATA":
				r := reply("DATA", "354 go ahead")
				c.Send(r)
				if !strings.HasPrefix(r, "354") {
					continue
				}
				for {
					l, err := c.ReadLine()
					if err != nil {
						return
					}
					if l == "." {
						break
					}
				}
				c.Send(reply(".", "250 2.0.0 queued"))
			default:
				c.Send(reply(verb, "250 ok"))
			}
		}
	})
	t.Cleanup(srv.Close)
	return srv
}

// msmtprc writes an msmtp file for a plaintext server into home and returns its name.
func msmtprc(t *testing.T, home, addr string, extra ...string) string {
	t.Helper()
	host, port := splitServer(addr)
	text := fmt.Sprintf("defaults\ntls off\n\naccount local\nhost %s\nport %s\nfrom robot@example.com\n%s\naccount default : local\n",
		host, port, strings.Join(extra, "\n"))
	return writeFile(t, home, ".msmtprc", text, 0o600)
}
