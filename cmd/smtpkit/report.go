package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/internal/queueview"
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

// writeJSON writes v as one indented JSON object.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// humanBytes formats a size in IEC units, such as "10 MiB" or "9.8 MiB",
// as the queue commands do.
func humanBytes(n int64) string { return queueview.Size(n) }
