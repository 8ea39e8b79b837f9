package wire

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// pipe returns a Conn over one end of a pipe and a function that returns
// everything written to it once the Conn's side is closed.
func pipe(t *testing.T, cfg Config) (*Conn, func() string) {
	t.Helper()
	client, server := net.Pipe()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(server)
		got <- string(b)
	}()
	t.Cleanup(func() { client.Close(); server.Close() })
	return NewConn(client, cfg), func() string { client.Close(); return <-got }
}

func TestWriteCommand(t *testing.T) {
	var traced []string
	c, written := pipe(t, Config{Trace: func(sent bool, line string, redacted bool) {
		if sent {
			traced = append(traced, line)
		}
	}})
	if err := c.WriteCommand("MAIL", "FROM:<a@example.com>", "SIZE=10"); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteCommand("RCPT", "TO:<b@example.com>"); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteSecret("AUTH PLAIN c2VjcmV0", "AUTH PLAIN [redacted]"); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "MAIL FROM:<a@example.com> SIZE=10\r\nRCPT TO:<b@example.com>\r\nAUTH PLAIN c2VjcmV0\r\n"
	if got := written(); got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	wantTrace := []string{"MAIL FROM:<a@example.com> SIZE=10", "RCPT TO:<b@example.com>", "AUTH PLAIN [redacted]"}
	if strings.Join(traced, "|") != strings.Join(wantTrace, "|") {
		t.Errorf("trace %q, want %q", traced, wantTrace)
	}
}

// Without a transcript the command goes to the buffer piece by piece: the
// same bytes.
func TestWriteCommandUntraced(t *testing.T) {
	c, written := pipe(t, Config{})
	if err := c.WriteCommand("MAIL", "FROM:<a@example.com>", "SIZE=10"); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteCommand("DATA"); err != nil {
		t.Fatal(err)
	}
	c.Flush()
	if got, want := written(), "MAIL FROM:<a@example.com> SIZE=10\r\nDATA\r\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

func TestWriteCommandRefusesLineBreaks(t *testing.T) {
	for _, bad := range []string{"a\r\nRCPT TO:<x>", "a\nb", "a\rb", "a\x00b"} {
		c, written := pipe(t, Config{})
		if err := c.WriteCommand("MAIL", "FROM:<ok>", bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("WriteCommand with %q: err = %v, want ErrInvalidArgument", bad, err)
		}
		if err := c.WriteCommand("X\r\nY"); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("WriteCommand with CRLF in the verb: err = %v, want ErrInvalidArgument", err)
		}
		err := c.WriteSecret("AUTH PLAIN "+bad, "AUTH PLAIN [redacted]")
		if !errors.Is(err, ErrInvalidArgument) || strings.Contains(err.Error(), bad) {
			t.Errorf("WriteSecret with %q: err = %v, want ErrInvalidArgument not quoting the secret", bad, err)
		}
		c.Flush()
		if got := written(); got != "" {
			t.Errorf("after refused commands %q was written, want nothing", got)
		}
	}
}
