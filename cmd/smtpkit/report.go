package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smtpkit/smtpkit"
)

// errorJSON is a failure as --json shows it.
type errorJSON struct {
	// Phase is the step that failed: connect, tls, greeting, ehlo,
	// starttls, auth, mail, rcpt, data; "" for a failure outside a session
	// (the command line, a file, a setting).
	Phase string `json:"phase,omitempty"`
	// Code and Enhanced are the server's reply code and enhanced status
	// code ("5.1.1"), when it replied.
	Code     int    `json:"code,omitempty"`
	Enhanced string `json:"enhanced,omitempty"`
	// Reply is the server's reply text, lines joined by "\n".
	Reply string `json:"reply,omitempty"`
	// Temporary is true for a 4xx reply: trying again later may work.
	Temporary bool `json:"temporary,omitempty"`
	// Message is the whole error, as the text output shows it.
	Message string `json:"message"`
	// ExitCode is the code this failure alone would exit with.
	ExitCode int `json:"exit_code"`
}

// outcomeJSON is how every command's --json result reports its outcome.
type outcomeJSON struct {
	OK       bool       `json:"ok"`
	Error    *errorJSON `json:"error,omitempty"`
	ExitCode int        `json:"exit_code"`
}

// printOutcome records the outcome of *err in result and prints result as
// JSON to out; when printing fails and nothing else did, that is the error.
func printOutcome(out io.Writer, result interface{ outcome() *outcomeJSON }, err *error) {
	o := result.outcome()
	o.OK = *err == nil
	o.Error = newErrorJSON(*err)
	o.ExitCode = exitCode(*err)
	if werr := writeJSON(out, result); werr != nil && *err == nil {
		*err = werr
	}
}

func (o *outcomeJSON) outcome() *outcomeJSON { return o }

// newErrorJSON describes err; nil for nil.
func newErrorJSON(err error) *errorJSON {
	if err == nil {
		return nil
	}
	j := &errorJSON{Message: describe(err), ExitCode: exitCode(err)}
	var e *smtpkit.Error
	if errors.As(err, &e) {
		j.Phase = string(e.Phase)
		j.Code = e.Code
		j.Enhanced = enhanced(e.Enhanced)
		j.Reply = e.Message
		j.Temporary = e.Temporary()
	}
	return j
}

// enhanced formats an enhanced status code, "" when there is none.
func enhanced(c [3]int) string {
	if c == [3]int{} {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", c[0], c[1], c[2])
}

// replyJSON is a reply of the server.
type replyJSON struct {
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"`
	Text     string `json:"text"`
}

func newReplyJSON(r smtpkit.Reply) *replyJSON {
	if r.Code == 0 {
		return nil
	}
	return &replyJSON{Code: r.Code, Enhanced: enhanced(r.Enhanced), Text: r.Text()}
}

// writeJSON writes v as one indented JSON object.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// humanBytes formats a size in IEC units, such as "10 MiB" or "9.8 MiB".
func humanBytes(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"}
	if n < 1024 {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[u]
}
