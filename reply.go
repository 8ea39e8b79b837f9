package smtpkit

import (
	"fmt"
	"strings"

	"github.com/smtpkit/smtpkit/internal/wire"
)

// Reply is one reply from the server.
type Reply struct {
	Code     int      // the three-digit reply code
	Enhanced [3]int   // the RFC 3463 enhanced status code, zero when absent
	Lines    []string // the text of each line, without code or enhanced code
}

// Text returns the reply's lines joined by "\n".
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// String formats the reply as the server sent it, one line.
func (r Reply) String() string {
	s := fmt.Sprint(r.Code)
	if r.Enhanced != [3]int{} {
		s += fmt.Sprintf(" %d.%d.%d", r.Enhanced[0], r.Enhanced[1], r.Enhanced[2])
	}
	if t := strings.Join(r.Lines, " / "); t != "" {
		s += " " + t
	}
	return s
}

// fromWire views the wire layer's reply as a Reply: the two types have the
// same fields, so nothing is copied.
func fromWire(r *wire.Reply) *Reply { return (*Reply)(r) }
