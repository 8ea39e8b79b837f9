package smtpkit_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// stepServer plays a whole session one command at a time (no PIPELINING),
// answering the step named bad with reply and every other step normally.
func stepServer(bad, reply string) func(c *smtptest.RawConn) {
	answer := func(step, normal string) string {
		if step == bad {
			return reply
		}
		return normal
	}
	return func(c *smtptest.RawConn) {
		if c.Send(answer("greeting", "220 hostile.test ESMTP")) != nil || bad == "greeting" {
			c.WaitClose()
			return
		}
		steps := []struct{ verb, name, normal string }{
			{"EHLO", "ehlo", "250-hostile.test\r\n250 AUTH CRAM-MD5"},
			{"AUTH", "auth", "334 PDEyMzQ1QGhvc3RpbGUudGVzdD4="},
			{"", "auth2", "235 2.7.0 ok"},
			{"MAIL", "mail", "250 ok"},
			{"RCPT", "rcpt", "250 ok"},
			{"DATA", "data", "354 go"},
		}
		for _, s := range steps {
			l, err := c.ReadLine()
			if err != nil || (s.verb != "" && !strings.HasPrefix(l, s.verb)) {
				return
			}
			r := answer(s.name, s.normal)
			if s.name == "ehlo" && bad == "ehlo" {
				c.Send(r)
				if _, err := c.Expect("HELO"); err == nil {
					c.Send(r)
				}
				c.WaitClose()
				return
			}
			c.Send(r)
			if s.name == bad {
				c.WaitClose()
				return
			}
		}
		if _, err := readData(c); err != nil {
			return
		}
		c.Send(answer("end of data", "250 queued"))
		if _, err := c.Expect("QUIT"); err == nil {
			c.Send(answer("quit", "221 bye"))
		}
		c.WaitClose()
	}
}

// TestUnexpectedCodeAtEveryStep: an unexpected reply at any step ends in an
// *Error of that step's phase, carrying the code, and nothing more is sent
// than the protocol allows.
func TestUnexpectedCodeAtEveryStep(t *testing.T) {
	tests := []struct {
		step, reply string
		phase       smtpkit.Phase
		code        int
	}{
		{"greeting", "554 5.7.1 no service", smtpkit.PhaseGreeting, 554},
		{"greeting", "250 wrong greeting", smtpkit.PhaseGreeting, 250},
		{"ehlo", "550 no", smtpkit.PhaseEHLO, 550},
		{"auth", "454 4.7.0 try later", smtpkit.PhaseAuth, 454},
		{"auth", "250 huh", smtpkit.PhaseAuth, 250},
		{"auth2", "535 5.7.8 no", smtpkit.PhaseAuth, 535},
		{"mail", "550 5.7.1 sender refused", smtpkit.PhaseMail, 550},
		{"mail", "354 what", smtpkit.PhaseMail, 354},
		{"rcpt", "550 5.1.1 no such user", smtpkit.PhaseRcpt, 550},
		{"data", "554 5.5.1 no", smtpkit.PhaseData, 554},
		{"data", "250 not 354", smtpkit.PhaseData, 250},
		{"end of data", "552 5.3.4 too big", smtpkit.PhaseData, 552},
		{"end of data", "451 4.3.0 try again", smtpkit.PhaseData, 451},
		{"quit", "500 what", smtpkit.PhaseQuit, 500},
	}
	for _, tt := range tests {
		t.Run(tt.step+"/"+tt.reply, func(t *testing.T) {
			srv := smtptest.NewRawServer(stepServer(tt.step, tt.reply))
			defer srv.Close()
			err := session(t, srv.Addr)
			var e *smtpkit.Error
			if !errors.As(err, &e) || e.Phase != tt.phase || e.Code != tt.code {
				t.Fatalf("err = %v, want phase %s with code %d", err, tt.phase, tt.code)
			}
			if (tt.code >= 400 && tt.code < 500) != e.Temporary() {
				t.Errorf("Temporary() = %v for %d", e.Temporary(), tt.code)
			}
		})
	}
}

// session dials with a login, sends one message and quits.
func session(t *testing.T, addr string) error {
	c, err := smtpkit.Dial(testContext(t), addr, &smtpkit.Options{
		Security: smtpkit.SecurityNone,
		Auth:     &smtpkit.Auth{Username: "tim", Password: "tanstaaftanstaaf"},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader("hi\r\n")); err != nil {
		return err
	}
	return c.Quit(testContext(t))
}

// TestTLSServerStopsMidHandshake: a server that reads the ClientHello and
// then says nothing fails the TLS phase within its limit, in every TLS mode.
func TestTLSServerStopsMidHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				c.Read(buf) // the ClientHello; then silence
				c.Read(buf)
			}()
		}
	}()
	defer func() { ln.Close(); <-done }()
	for _, mode := range []smtpkit.Security{smtpkit.SecurityImplicitTLS, smtpkit.SecurityTLSAuto} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := smtpkit.Dial(ctx, ln.Addr().String(), &smtpkit.Options{Security: mode, GreetingTimeout: 200 * time.Millisecond})
		cancel()
		if !errors.Is(err, smtpkit.ErrGreetingTimeout) {
			t.Errorf("%s: err = %v, want ErrGreetingTimeout", mode, err)
		}
	}
}

// TestManyAuthMechanismsBeforeTLS: a tampered pre-TLS EHLO that offers dozens
// of mechanisms changes nothing: the login uses what the server offers
// after TLS.
func TestManyAuthMechanismsBeforeTLS(t *testing.T) {
	var many []string
	for i := range 40 {
		many = append(many, "X-MECH-"+string(rune('A'+i%26))+string(rune('A'+i/26)))
	}
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "STARTTLS", "AUTH PLAIN LOGIN "+strings.Join(many, " ")) {
			return
		}
		if _, err := c.Expect("STARTTLS"); err != nil || c.Send("220 go") != nil || c.StartTLS() != nil {
			return
		}
		if _, err := c.Expect("EHLO"); err != nil {
			return
		}
		c.Send(ehloReply("AUTH CRAM-MD5")...)
		if _, err := c.Expect("AUTH CRAM-MD5"); err == nil {
			c.Send("535 5.7.8 no")
		}
		c.WaitClose()
	})
	defer srv.Close()
	_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security:  smtpkit.SecurityStartTLS,
		TLSConfig: smtptest.ClientTLSConfig(),
		Auth:      &smtpkit.Auth{Username: "tim", Password: "pw"},
	})
	if !errors.Is(err, smtpkit.ErrAuthFailed) {
		t.Errorf("err = %v, want the CRAM-MD5 login offered after TLS to be tried (and refused)", err)
	}
	srv.Close()
	for _, l := range srv.Received() {
		if strings.HasPrefix(l, "AUTH PLAIN") || strings.HasPrefix(l, "AUTH LOGIN") || strings.HasPrefix(l, "AUTH X-") {
			t.Errorf("the client used a mechanism offered only before TLS: %q", l)
		}
	}
}

// TestStrippedSTARTTLSNeverCostsThePassword: an attacker who removes
// STARTTLS (or hides EHLO altogether) from the server's reply gets neither
// a plaintext session where TLS was required nor the password where it was
// optional.
func TestStrippedSTARTTLSNeverCostsThePassword(t *testing.T) {
	stripped := func(c *smtptest.RawConn) {
		if greetAndEHLO(c, "AUTH PLAIN LOGIN") {
			c.WaitClose()
		}
	}
	heloOnly := func(c *smtptest.RawConn) {
		c.Send("220 hidden.test")
		if _, err := c.Expect("EHLO"); err != nil {
			return
		}
		c.Send("502 5.5.1 EHLO not implemented")
		if _, err := c.Expect("HELO"); err == nil {
			c.Send("250 hidden.test")
		}
		c.WaitClose()
	}
	tests := []struct {
		name   string
		script func(*smtptest.RawConn)
		mode   smtpkit.Security
		want   error
	}{
		{"STARTTLS stripped, TLS required", stripped, smtpkit.SecurityStartTLS, smtpkit.ErrTLSNotOffered},
		{"STARTTLS stripped, TLS optional", stripped, smtpkit.SecurityStartTLSIfOffered, smtpkit.ErrCleartextAuth},
		{"STARTTLS stripped, Auto", stripped, smtpkit.SecurityAuto, smtpkit.ErrCleartextAuth},
		{"EHLO hidden, TLS required", heloOnly, smtpkit.SecurityStartTLS, smtpkit.ErrTLSNotOffered},
		{"EHLO hidden, TLS-auto", heloOnly, smtpkit.SecurityTLSAuto, smtpkit.ErrTLSNotOffered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.NewRawServer(tt.script)
			defer srv.Close()
			_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
				Security: tt.mode,
				Auth:     &smtpkit.Auth{Username: "tim", Password: "hunter2"},
			})
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			srv.Close()
			for _, l := range srv.Received() {
				if strings.HasPrefix(l, "AUTH") || strings.HasPrefix(l, "MAIL") || strings.Contains(l, "hunter2") {
					t.Errorf("sent %q", l)
				}
			}
		})
	}
}
