package smtptest_test

import (
	"bufio"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/smtpkit/smtpkit/smtptest"
)

// dialRaw opens a plain TCP connection to addr that gives up after a while.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestRawServerSendsRepliesInOneWrite(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if err := c.Send("220 first", "250 second"); err != nil {
			t.Errorf("Send: %v", err)
		}
		c.WaitClose()
	})
	defer srv.Close()

	conn := dialRaw(t, srv.Addr)
	// One write on loopback arrives whole, so a single read gets both.
	buf := make([]byte, 100)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "220 first\r\n250 second\r\n" {
		t.Fatalf("first read got %q, want both replies", got)
	}
}

func TestRawServerScriptWithSMTPClient(t *testing.T) {
	handlerErr := make(chan error, 1)
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		handlerErr <- func() error {
			if err := c.Send("220 raw ESMTP"); err != nil {
				return err
			}
			if _, err := c.Expect("EHLO "); err != nil {
				return err
			}
			if err := c.Send("250-raw", "250 PIPELINING"); err != nil {
				return err
			}
			if _, err := c.Expect("mail from:"); err != nil {
				return err
			}
			if err := c.Send("550 5.7.1 Go away"); err != nil {
				return err
			}
			return c.WaitClose()
		}()
	})
	defer srv.Close()

	c, err := smtp.Dial(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Mail("a@example.com", nil)
	var smtpErr *smtp.SMTPError
	if !errors.As(err, &smtpErr) || smtpErr.Code != 550 {
		t.Fatalf("Mail error = %v, want the scripted 550", err)
	}
	c.Close()

	if err := <-handlerErr; err != nil {
		t.Fatalf("handler: %v", err)
	}
	got := srv.Received()
	if len(got) != 2 || !strings.HasPrefix(got[0], "EHLO ") || !strings.HasPrefix(got[1], "MAIL FROM:<a@example.com>") {
		t.Fatalf("Received() = %q, want EHLO then MAIL only", got)
	}
	if srv.Connections() != 1 {
		t.Fatalf("Connections() = %d, want 1", srv.Connections())
	}
}

func TestRawTLSServer(t *testing.T) {
	srv := smtptest.NewRawTLSServer(func(c *smtptest.RawConn) {
		if err := quitScript(c, true); err != nil {
			t.Errorf("handler: %v", err)
		}
	})
	defer srv.Close()

	c, err := smtp.DialTLS(srv.Addr, smtptest.ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

func TestRawConnStartTLS(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		err := func() error {
			if err := c.Send("220 raw ESMTP"); err != nil {
				return err
			}
			if _, err := c.Expect("EHLO"); err != nil {
				return err
			}
			if err := c.Send("250-raw", "250 STARTTLS"); err != nil {
				return err
			}
			if _, err := c.Expect("STARTTLS"); err != nil {
				return err
			}
			if err := c.Send("220 Go ahead"); err != nil {
				return err
			}
			if err := c.StartTLS(); err != nil {
				return err
			}
			return quitScript(c, false) // no new greeting after STARTTLS
		}()
		if err != nil {
			t.Errorf("handler: %v", err)
		}
	})
	defer srv.Close()

	c, err := smtp.DialStartTLS(srv.Addr, smtptest.ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("client is not using TLS after STARTTLS")
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// quitScript greets if asked to, then answers EHLO and QUIT.
func quitScript(c *smtptest.RawConn, greet bool) error {
	if greet {
		if err := c.Send("220 raw ESMTP"); err != nil {
			return err
		}
	}
	if _, err := c.Expect("EHLO"); err != nil {
		return err
	}
	if err := c.Send("250 raw"); err != nil {
		return err
	}
	if _, err := c.Expect("QUIT"); err != nil {
		return err
	}
	return c.Send("221 Bye")
}

func TestRawConnReadLineAndReceived(t *testing.T) {
	lines := make(chan []string, 1)
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		for range 3 {
			if _, err := c.ReadLine(); err != nil {
				t.Errorf("ReadLine: %v", err)
			}
		}
		lines <- c.Received()
	})
	defer srv.Close()

	conn := dialRaw(t, srv.Addr)
	if _, err := conn.Write([]byte("crlf\r\nlf only\n\r\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{"crlf", "lf only", ""}
	if got := <-lines; !slices.Equal(got, want) {
		t.Fatalf("RawConn.Received() = %q, want %q", got, want)
	}
}

func TestRawConnExpectMismatch(t *testing.T) {
	expectErr := make(chan error, 1)
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		line, err := c.Expect("EHLO")
		if line != "HELO client.example" {
			t.Errorf("Expect returned line %q", line)
		}
		expectErr <- err
	})
	defer srv.Close()

	conn := dialRaw(t, srv.Addr)
	conn.Write([]byte("HELO client.example\r\n"))
	err := <-expectErr
	if err == nil || !strings.Contains(err.Error(), `"HELO client.example"`) {
		t.Fatalf("Expect error = %v, want one naming the line received", err)
	}
}

func TestRawConnTimeout(t *testing.T) {
	readErr := make(chan error, 1)
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		c.Timeout = 100 * time.Millisecond
		_, err := c.ReadLine()
		readErr <- err
	})
	defer srv.Close()

	dialRaw(t, srv.Addr) // and say nothing
	err := <-readErr
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("ReadLine error = %v, want a timeout", err)
	}
}

func TestRawServerCloseUnblocksHandlers(t *testing.T) {
	started := make(chan struct{})
	readErr := make(chan error, 1)
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		close(started)
		_, err := c.ReadLine() // the client never sends anything
		readErr <- err
	})

	conn := dialRaw(t, srv.Addr)
	<-started
	srv.Close()
	err := <-readErr
	var netErr net.Error
	if err == nil || (errors.As(err, &netErr) && netErr.Timeout()) {
		t.Fatalf("ReadLine after Close: %v; want the error of a closed connection, not a timeout", err)
	}
	// The client sees the connection closed.
	if _, err := bufio.NewReader(conn).ReadString('\n'); err == nil {
		t.Fatal("client connection still open after Close")
	}
	srv.Close() // a second Close is harmless
}

func TestRawConnWaitClose(t *testing.T) {
	waitErr := make(chan error, 1)
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		waitErr <- c.WaitClose()
	})
	defer srv.Close()

	conn := dialRaw(t, srv.Addr)
	conn.Write([]byte("QUIT\r\n"))
	conn.Close()
	if err := <-waitErr; err != nil {
		t.Fatalf("WaitClose: %v", err)
	}
	if got := srv.Received(); !slices.Equal(got, []string{"QUIT"}) {
		t.Fatalf("Received() = %q, want [QUIT]", got)
	}
}
