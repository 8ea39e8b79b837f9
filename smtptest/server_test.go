package smtptest_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/smtpkit/smtpkit/smtptest"
)

func TestSecurityString(t *testing.T) {
	for sec, want := range map[smtptest.Security]string{
		smtptest.Plain:       "plain",
		smtptest.StartTLS:    "starttls",
		smtptest.ImplicitTLS: "implicit-tls",
		smtptest.Security(9): "Security(9)",
	} {
		if got := sec.String(); got != want {
			t.Errorf("Security(%d).String() = %q, want %q", int(sec), got, want)
		}
	}
}

// dial connects a go-smtp client to srv the way its Security requires.
func dial(t *testing.T, srv *smtptest.Server) *smtp.Client {
	t.Helper()
	var c *smtp.Client
	var err error
	switch srv.Security {
	case smtptest.Plain:
		c, err = smtp.Dial(srv.Addr)
	case smtptest.StartTLS:
		c, err = smtp.DialStartTLS(srv.Addr, smtptest.ClientTLSConfig())
	case smtptest.ImplicitTLS:
		c, err = smtp.DialTLS(srv.Addr, smtptest.ClientTLSConfig())
	}
	if err != nil {
		t.Fatalf("connecting to %s server: %v", srv.Security, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServerDeliversMessage(t *testing.T) {
	for _, sec := range []smtptest.Security{smtptest.Plain, smtptest.StartTLS, smtptest.ImplicitTLS} {
		t.Run(sec.String(), func(t *testing.T) {
			srv := smtptest.NewServer(sec)
			defer srv.Close()
			if !strings.HasPrefix(srv.Addr, "127.0.0.1:") {
				t.Fatalf("Addr = %q, want 127.0.0.1:port", srv.Addr)
			}

			c := dial(t, srv)
			body := "Subject: hi\r\n\r\nHello.\r\n"
			if err := c.SendMail("a@example.com", []string{"b@example.com", "c@example.com"}, strings.NewReader(body)); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			if err := c.Quit(); err != nil {
				t.Fatalf("Quit: %v", err)
			}

			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("got %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.From != "a@example.com" || strings.Join(m.To, ",") != "b@example.com,c@example.com" {
				t.Errorf("envelope = %q -> %q", m.From, m.To)
			}
			if string(m.Data) != body {
				t.Errorf("data = %q, want %q", m.Data, body)
			}
			if m.TLS != (sec != smtptest.Plain) {
				t.Errorf("TLS = %v for a %s server", m.TLS, sec)
			}
			if n := srv.Connections(); n != 1 {
				t.Errorf("Connections() = %d, want 1", n)
			}
		})
	}
}

func TestServerRefusesRecipients(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.RefuseRecipients = []string{"nobody@example.org"}
	srv.Start()
	defer srv.Close()
	c := dial(t, srv)
	if err := c.Mail("a@example.com", nil); err != nil {
		t.Fatal(err)
	}
	var se *smtp.SMTPError
	if err := c.Rcpt("NoBody@example.org", nil); !errors.As(err, &se) || se.Code != 550 ||
		se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) || !strings.Contains(se.Message, "NoBody@example.org") {
		t.Fatalf("RCPT of a refused address: %v, want 550 5.1.1 naming it", err)
	}
	if err := c.Rcpt("b@example.org", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: x\r\n\r\nhi\r\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || strings.Join(msgs[0].To, ",") != "b@example.org" {
		t.Errorf("messages %+v, want one to b@example.org alone", msgs)
	}
}

func TestServerAdvertisesStartTLSOnlyWhenAsked(t *testing.T) {
	for sec, want := range map[smtptest.Security]bool{smtptest.Plain: false, smtptest.StartTLS: true} {
		t.Run(sec.String(), func(t *testing.T) {
			srv := smtptest.NewServer(sec)
			defer srv.Close()
			// A plaintext dial for both: after STARTTLS it is no longer offered.
			c, err := smtp.Dial(srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("client.example"); err != nil {
				t.Fatal(err)
			}
			if got, _ := c.Extension("STARTTLS"); got != want {
				t.Errorf("STARTTLS advertised = %v, want %v", got, want)
			}
			if ok, size := c.Extension("SIZE"); !ok || size != "10485760" {
				t.Errorf("SIZE = %v %q, want 10485760", ok, size)
			}
		})
	}
}

func TestServerMessagesIsACopy(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	c := dial(t, srv)
	if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	first := srv.Messages()
	first[0].To[0] = "changed"
	first[0].Data[0] = 'y'
	again := srv.Messages()
	if again[0].To[0] != "b@example.com" || again[0].Data[0] != 'x' {
		t.Fatalf("changing the result of Messages changed the server's record: %+v", again[0])
	}
}

func TestServerAuth(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	srv.Users = map[string]string{"alice": "secret"}
	srv.Start()
	defer srv.Close()

	t.Run("right password", func(t *testing.T) {
		c := dial(t, srv)
		if !c.SupportsAuth("PLAIN") {
			t.Fatal("server does not offer AUTH PLAIN")
		}
		if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
			t.Fatalf("Auth: %v", err)
		}
		if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n")); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 || msgs[0].User != "alice" {
			t.Fatalf("messages = %+v, want one from user alice", msgs)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		c := dial(t, srv)
		err := c.Auth(sasl.NewPlainClient("", "alice", "wrong"))
		var smtpErr *smtp.SMTPError
		if !errors.As(err, &smtpErr) || smtpErr.Code != 535 {
			t.Fatalf("Auth error = %v, want a 535 reply", err)
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		c := dial(t, srv)
		err := c.Auth(sasl.NewPlainClient("", "bob", "secret"))
		var smtpErr *smtp.SMTPError
		if !errors.As(err, &smtpErr) || smtpErr.Code != 535 {
			t.Fatalf("Auth error = %v, want a 535 reply", err)
		}
	})

	t.Run("no auth", func(t *testing.T) {
		c := dial(t, srv)
		err := c.Mail("a@example.com", nil)
		var smtpErr *smtp.SMTPError
		if !errors.As(err, &smtpErr) || smtpErr.Code != 502 {
			t.Fatalf("MAIL error = %v, want a 502 authentication required reply", err)
		}
	})
}

func TestServerWithoutUsersOffersNoAuth(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	c := dial(t, srv)
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("server without Users advertises AUTH")
	}
}

func TestServerConfigCanBeAdjusted(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.Config.MaxRecipients = 1
	srv.Start()
	defer srv.Close()

	c := dial(t, srv)
	if err := c.Mail("a@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("c@example.com", nil); err == nil {
		t.Fatal("second recipient accepted with MaxRecipients = 1")
	}
}

func TestServerCountsConnections(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	for i := range 3 {
		c := dial(t, srv)
		if err := c.Noop(); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	if n := srv.Connections(); n != 3 {
		t.Fatalf("Connections() = %d, want 3", n)
	}
}

func TestServerCloseDropsOpenConnections(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Wait for the greeting so the server surely has the connection.
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	if _, err := conn.Read(buf); err != nil {
		t.Fatalf("reading the greeting: %v", err)
	}

	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a client was connected")
	}
	if _, err := conn.Read(buf); err == nil {
		t.Fatal("connection still open after Close")
	}
	srv.Close() // a second Close is harmless
}

func TestServerCloseUnstarted(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.Close()
	srv.Close()
	if n := srv.Connections(); n != 0 {
		t.Fatalf("Connections() = %d on a server never started", n)
	}
}
