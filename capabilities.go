package smtpkit

import (
	"slices"
	"strconv"
	"strings"
)

// Capabilities is what the server announced in its reply to EHLO.
// The zero value announces nothing, as after HELO.
type Capabilities struct {
	lines []string          // extension lines as sent, the first (greeting) line excluded
	ext   map[string]string // keyword (upper case) -> parameters
	esmtp bool              // EHLO was accepted
}

// parseCapabilities reads the lines of a 250 reply to EHLO.
func parseCapabilities(r *Reply) Capabilities {
	c := Capabilities{esmtp: true, ext: map[string]string{}}
	if len(r.Lines) > 1 {
		c.lines = slices.Clone(r.Lines[1:])
	}
	for _, l := range c.lines {
		kw, params, _ := strings.Cut(strings.TrimSpace(l), " ")
		kw = strings.ToUpper(kw)
		if strings.HasPrefix(kw, "AUTH=") { // the pre-RFC 4954 form: "AUTH=LOGIN PLAIN"
			params = strings.TrimSpace(kw[len("AUTH="):] + " " + params)
			kw = "AUTH"
		}
		if old, ok := c.ext[kw]; ok && kw == "AUTH" {
			params = old + " " + params
		}
		c.ext[kw] = strings.TrimSpace(params)
	}
	return c
}

// ESMTP reports whether the server accepted EHLO; false means it took only HELO.
func (c Capabilities) ESMTP() bool { return c.esmtp }

// Lines returns the extension lines as the server sent them, such as "SIZE 10240000".
func (c Capabilities) Lines() []string { return slices.Clone(c.lines) }

// Has reports whether the server announced the extension keyword (case-insensitive).
func (c Capabilities) Has(keyword string) bool {
	_, ok := c.ext[strings.ToUpper(keyword)]
	return ok
}

// Param returns the parameters announced with keyword, such as "10240000" for SIZE.
func (c Capabilities) Param(keyword string) (string, bool) {
	p, ok := c.ext[strings.ToUpper(keyword)]
	return p, ok
}

// Size returns the largest message the server accepts in bytes (RFC 1870);
// ok is false without SIZE, and limit is 0 when the server names no limit.
func (c Capabilities) Size() (limit int64, ok bool) {
	p, ok := c.ext["SIZE"]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
	if err != nil || n < 0 {
		return 0, true
	}
	return n, true
}

// AuthMechanisms returns the SASL mechanisms the server offers, upper case,
// from both the "AUTH" and the old "AUTH=" form.
func (c Capabilities) AuthMechanisms() []string {
	var out []string
	for _, m := range strings.Fields(c.ext["AUTH"]) {
		m = strings.ToUpper(m)
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// StartTLS reports whether the server offers STARTTLS (RFC 3207).
func (c Capabilities) StartTLS() bool { return c.Has("STARTTLS") }

// Pipelining reports whether the server offers PIPELINING (RFC 2920).
func (c Capabilities) Pipelining() bool { return c.Has("PIPELINING") }

// Chunking reports whether the server offers CHUNKING, the BDAT command (RFC 3030).
func (c Capabilities) Chunking() bool { return c.Has("CHUNKING") }

// BinaryMIME reports whether the server offers BINARYMIME (RFC 3030).
func (c Capabilities) BinaryMIME() bool { return c.Has("BINARYMIME") }

// EightBitMIME reports whether the server offers 8BITMIME (RFC 6152).
func (c Capabilities) EightBitMIME() bool { return c.Has("8BITMIME") }

// SMTPUTF8 reports whether the server offers SMTPUTF8 (RFC 6531).
func (c Capabilities) SMTPUTF8() bool { return c.Has("SMTPUTF8") }

// DSN reports whether the server offers delivery status notifications (RFC 3461).
func (c Capabilities) DSN() bool { return c.Has("DSN") }

// EnhancedStatusCodes reports whether the server offers ENHANCEDSTATUSCODES (RFC 2034).
func (c Capabilities) EnhancedStatusCodes() bool { return c.Has("ENHANCEDSTATUSCODES") }

// RequireTLS reports whether the server offers REQUIRETLS (RFC 8689).
func (c Capabilities) RequireTLS() bool { return c.Has("REQUIRETLS") }
