package wire

import (
	"bufio"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
)

// connFrom returns a Conn that reads input.
func connFrom(t *testing.T, input string, cfg Config) *Conn {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		server.Write([]byte(input))
		server.Close()
	}()
	return NewConn(client, cfg)
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		enhanced bool
		want     Reply
	}{
		{"single", "220 mx.example.com ESMTP\r\n", false, Reply{Code: 220, Lines: []string{"mx.example.com ESMTP"}}},
		{"bare code", "250\r\n", false, Reply{Code: 250, Lines: []string{""}}},
		{"bare LF", "250 ok\n", false, Reply{Code: 250, Lines: []string{"ok"}}},
		{"multi", "250-mx\r\n250-SIZE 100\r\n250 PIPELINING\r\n", false,
			Reply{Code: 250, Lines: []string{"mx", "SIZE 100", "PIPELINING"}}},
		{"enhanced", "550 5.1.1 no such user\r\n", true,
			Reply{Code: 550, Enhanced: [3]int{5, 1, 1}, Lines: []string{"no such user"}}},
		{"enhanced multi", "451-4.3.0 try\r\n451 4.3.0 later\r\n", true,
			Reply{Code: 451, Enhanced: [3]int{4, 3, 0}, Lines: []string{"try", "later"}}},
		{"enhanced off", "550 5.1.1 no such user\r\n", false,
			Reply{Code: 550, Lines: []string{"5.1.1 no such user"}}},
		{"enhanced class mismatch kept as text", "250 5.1.1 odd\r\n", true,
			Reply{Code: 250, Lines: []string{"5.1.1 odd"}}},
		{"enhanced alone", "250 2.0.0\r\n", true,
			Reply{Code: 250, Enhanced: [3]int{2, 0, 0}, Lines: []string{""}}},
		{"not enhanced: version number", "220 Server 2.10 ready\r\n", true,
			Reply{Code: 220, Lines: []string{"Server 2.10 ready"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connFrom(t, tt.in, Config{})
			got, err := c.ReadReply(tt.enhanced)
			if err != nil {
				t.Fatalf("ReadReply(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("ReadReply(%q) = %+v, want %+v", tt.in, *got, tt.want)
			}
		})
	}
}

func TestReadReplyRejects(t *testing.T) {
	long := "250 " + strings.Repeat("x", 5000) + "\r\n"
	many := strings.Repeat("250-x\r\n", 300) + "250 end\r\n"
	tests := []struct{ name, in string }{
		{"short", "25\r\n"},
		{"letters", "abc hello\r\n"},
		{"code 1xx", "150 hi\r\n"},
		{"code 6xx", "650 hi\r\n"},
		{"bad separator", "250_hi\r\n"},
		{"mixed codes", "250-a\r\n550 b\r\n"},
		{"line too long", long},
		{"bare CR inside a line", "250 ok\rFAKE\r\n"},
		{"too many lines", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connFrom(t, tt.in, Config{})
			r, err := c.ReadReply(false)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("ReadReply = %+v, %v; want ErrProtocol", r, err)
			}
		})
	}
}

func TestReadReplyLimitsConfigurable(t *testing.T) {
	c := connFrom(t, "250-a\r\n250-b\r\n250 c\r\n", Config{MaxLines: 2})
	if _, err := c.ReadReply(false); !errors.Is(err, ErrProtocol) {
		t.Fatalf("3-line reply with MaxLines 2: err = %v, want ErrProtocol", err)
	}
	c = connFrom(t, "250 "+strings.Repeat("y", 100)+"\r\n", Config{MaxLineLength: 64})
	if _, err := c.ReadReply(false); !errors.Is(err, ErrProtocol) {
		t.Fatalf("100-byte line with MaxLineLength 64: err = %v, want ErrProtocol", err)
	}
}

func TestReadReplyTruncated(t *testing.T) {
	c := connFrom(t, "250-first\r\n250-sec", Config{})
	if _, err := c.ReadReply(false); err == nil {
		t.Fatal("reply cut off mid-line: no error")
	}
}

func TestReplyBuffered(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"250 ok", false},        // no line end yet
		{"250-first\r\n", false}, // more lines to come
		{"250-first\r\n250 la", false},
		{"250 ok\r\n", true},
		{"250\r\n", true},
		{"250 ok\n", true},
		{"250-a\r\n250-b\r\n250 c\r\n", true},
		{"25\r\n", true}, // too short: reading fails at once, without waiting
		{"250 ok\r\n354 go", true},
	}
	for _, tt := range tests {
		c := &Conn{r: bufio.NewReaderSize(strings.NewReader(tt.in), 4096), maxLn: 4096, maxLns: 10}
		c.r.Peek(1) // what a read from the network leaves in the buffer
		if got := c.ReplyBuffered(); got != tt.want {
			t.Errorf("ReplyBuffered() with %q buffered = %v, want %v", tt.in, got, tt.want)
		}
	}
	// Once one reply is read, the answer is about the next one.
	c := &Conn{r: bufio.NewReaderSize(strings.NewReader("250 a\r\n250-b\r\n"), 4096), maxLn: 4096, maxLns: 10}
	if _, err := c.ReadReply(false); err != nil {
		t.Fatal(err)
	}
	if c.ReplyBuffered() {
		t.Error("ReplyBuffered() = true with half of the next reply buffered")
	}
}
