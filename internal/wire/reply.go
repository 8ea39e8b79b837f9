package wire

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// Limits that keep a hostile server from exhausting memory while a reply is read.
const (
	// DefaultMaxLineLength bounds one reply line, CRLF included; RFC 5321 asks servers for 512.
	DefaultMaxLineLength = 4096
	// DefaultMaxLines bounds the lines of one multi-line reply.
	DefaultMaxLines = 256
)

// ErrProtocol marks a reply that breaks the SMTP grammar.
var ErrProtocol = errors.New("protocol violation")

// Reply is one SMTP reply, single- or multi-line.
type Reply struct {
	Code     int      // the three-digit reply code
	Enhanced [3]int   // the RFC 3463 enhanced status code, zero when absent
	Lines    []string // the text of each line, without code or enhanced code
}

// ReadReply reads one reply, enforcing the line-length and line-count limits.
// When enhanced is true, an RFC 3463 enhanced status code at the start of the
// text is parsed and removed from each line.
func (c *Conn) ReadReply(enhanced bool) (*Reply, error) {
	var r Reply
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, err
		}
		code, last, text, err := parseReplyLine(line)
		if err != nil {
			return nil, err
		}
		if r.Code == 0 {
			r.Code = code
		} else if code != r.Code {
			return nil, fmt.Errorf("%w: multi-line reply mixes codes %d and %d", ErrProtocol, r.Code, code)
		}
		if enhanced {
			if e, rest, ok := parseEnhanced(code, text); ok {
				if r.Enhanced == [3]int{} {
					r.Enhanced = e
				}
				text = rest
			}
		}
		r.Lines = append(r.Lines, text)
		if last {
			return &r, nil
		}
		if len(r.Lines) >= c.maxLines() {
			return nil, fmt.Errorf("%w: reply has more than %d lines", ErrProtocol, c.maxLines())
		}
	}
}

// readLine reads one line ending in LF (a CR before it is dropped), at most
// the maximum line length long.
func (c *Conn) readLine() (string, error) {
	b, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, c.r.Size())
	}
	if err != nil {
		return "", err
	}
	line := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if strings.Contains(line, "\r") {
		return "", fmt.Errorf("%w: reply line %q holds a bare CR", ErrProtocol, line)
	}
	c.trace(false, line, false)
	return line, nil
}

// parseReplyLine splits "250-text" or "250 text" into its parts.
func parseReplyLine(line string) (code int, last bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("%w: reply line %q is too short", ErrProtocol, line)
	}
	for i := 0; i < 3; i++ {
		d := line[i]
		if d < '0' || d > '9' || (i == 0 && (d < '2' || d > '5')) {
			return 0, false, "", fmt.Errorf("%w: reply line %q does not start with a reply code", ErrProtocol, line)
		}
		code = code*10 + int(d-'0')
	}
	if len(line) == 3 {
		return code, true, "", nil
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], nil
	case '-':
		return code, false, line[4:], nil
	}
	return 0, false, "", fmt.Errorf("%w: reply line %q has %q after its code", ErrProtocol, line, line[3])
}

// parseEnhanced parses "class.subject.detail" at the start of text, as RFC 3463
// writes it; the class must agree with the first digit of the reply code.
func parseEnhanced(code int, text string) (e [3]int, rest string, ok bool) {
	field, rest, _ := strings.Cut(text, " ")
	for i := range 3 {
		part, tail, found := strings.Cut(field, ".")
		if found == (i == 2) || len(part) == 0 || len(part) > 3 || (i == 0 && len(part) != 1) {
			return [3]int{}, text, false
		}
		for _, d := range []byte(part) {
			if d < '0' || d > '9' {
				return [3]int{}, text, false
			}
			e[i] = e[i]*10 + int(d-'0')
		}
		field = tail
	}
	if e[0] != code/100 {
		return [3]int{}, text, false
	}
	return e, rest, true
}
