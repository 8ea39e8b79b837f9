package smtpkit_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

// NewClient sets up a session on a connection the caller dialled; it did
// not exist at dcaafbe, where only Dial could make a Client.

// dialTCP opens a plain TCP connection to addr, as a caller with a dialer
// of its own would.
func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// TestNewClientEveryMode: NewClient speaks each security mode on a
// connection it is handed, and the session sends mail.
func TestNewClientEveryMode(t *testing.T) {
	tests := []struct {
		name   string
		server smtptest.Security
		opts   smtpkit.Options
		want   smtpkit.Security
	}{
		{"plain", smtptest.Plain, smtpkit.Options{Security: smtpkit.SecurityNone}, smtpkit.SecurityNone},
		{"zero options: STARTTLS", smtptest.StartTLS, smtpkit.Options{TLSConfig: smtptest.ClientTLSConfig()}, smtpkit.SecurityStartTLS},
		{"implicit TLS", smtptest.ImplicitTLS, smtpkit.Options{Security: smtpkit.SecurityImplicitTLS, TLSConfig: smtptest.ClientTLSConfig()}, smtpkit.SecurityImplicitTLS},
		{"Auto on a plaintext server", smtptest.Plain, smtpkit.Options{Security: smtpkit.SecurityAuto}, smtpkit.SecurityNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.NewServer(tt.server)
			defer srv.Close()
			c, err := smtpkit.NewClient(testContext(t), dialTCP(t, srv.Addr), srv.Addr, &tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Security() != tt.want {
				t.Errorf("Security() = %s, want %s", c.Security(), tt.want)
			}
			if _, ok := c.TLSConnectionState(); ok != (tt.want != smtpkit.SecurityNone) {
				t.Errorf("TLS in use: %v, with Security() %s", ok, c.Security())
			}
			if _, err := c.Send(testContext(t), &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.NewReader("hi\r\n")); err != nil {
				t.Fatal(err)
			}
			if err := c.Quit(testContext(t)); err != nil {
				t.Error(err)
			}
			if got := len(srv.Messages()); got != 1 {
				t.Errorf("the server has %d messages, want 1", got)
			}
			if n := srv.Connections(); n != 1 {
				t.Errorf("the server saw %d connections, want only the caller's", n)
			}
		})
	}
}

// TestNewClientLogsIn: Options.Auth logs in on the connection handed over.
func TestNewClientLogsIn(t *testing.T) {
	srv := authServer(t, smtptest.StartTLS, sasl.Plain)
	opts := smtpkit.Options{TLSConfig: smtptest.ClientTLSConfig(), Auth: &smtpkit.Auth{Username: testUser, Password: testPassword}}
	c, err := smtpkit.NewClient(testContext(t), dialTCP(t, srv.Addr), srv.Addr, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.AuthMechanism() != sasl.Plain {
		t.Errorf("AuthMechanism() = %q", c.AuthMechanism())
	}
	sendOne(t, c)
}

// TestNewClientTLSAutoWithoutTLSFails: TLS-auto on a plaintext server
// that offers no STARTTLS fails, and closes the connection it was handed.
func TestNewClientTLSAutoWithoutTLSFails(t *testing.T) {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()
	nc := dialTCP(t, srv.Addr)
	c, err := smtpkit.NewClient(testContext(t), nc, srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityTLSAuto})
	if c != nil {
		c.Close()
		t.Fatalf("NewClient succeeded in %s", c.Security())
	}
	if !errors.Is(err, smtpkit.ErrTLSNotOffered) {
		t.Fatalf("err = %v, want ErrTLSNotOffered", err)
	}
	if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("reading the connection after the failure: %v, want net.ErrClosed: NewClient must close it", err)
	}
}

// TestNewClientInvalidOptions: invalid options close the connection
// without writing to it.
func TestNewClientInvalidOptions(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	c, err := smtpkit.NewClient(testContext(t), client, "mail.example.com:587", &smtpkit.Options{Timeout: -time.Second})
	if c != nil {
		c.Close()
		t.Fatal("NewClient succeeded with a negative Timeout")
	}
	if len(optionErrors(err)) != 1 || !errors.Is(err, smtpkit.ErrInvalidOptions) {
		t.Fatalf("err = %v, want one *OptionError", err)
	}
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := server.Read(make([]byte, 64)); err != io.EOF {
		t.Errorf("the other end read %d bytes, %v; want io.EOF: the connection closed, nothing written", n, err)
	}
}
