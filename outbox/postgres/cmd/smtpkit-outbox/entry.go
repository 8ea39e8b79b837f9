package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/smtpkit/smtpkit/outbox/postgres"
)

// openTimeout bounds connecting to the database and finding the tables.
const openTimeout = 30 * time.Second

// open returns the Store at the database of c.
func (c *common) open(ctx context.Context, e *env) (*postgres.Store, error) {
	url, err := c.databaseURL(e)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	s, err := postgres.Open(octx, url)
	if err != nil {
		return nil, databaseError(err)
	}
	return s, nil
}

// outcome ends every JSON object the commands print.
type outcomeJSON struct {
	OK       bool       `json:"ok"`
	Error    *errorJSON `json:"error,omitempty"`
	ExitCode int        `json:"exit_code"`
}

type errorJSON struct {
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
}

func (o *outcomeJSON) outcome() *outcomeJSON { return o }

// printJSON records the outcome of *err in result and prints result as one
// JSON object; when printing fails and nothing else did, that is the error.
func printJSON(out io.Writer, result interface{ outcome() *outcomeJSON }, err *error) {
	o := result.outcome()
	o.OK, o.ExitCode = *err == nil, exitCode(*err)
	if *err != nil {
		o.Error = &errorJSON{Message: (*err).Error(), ExitCode: o.ExitCode}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if werr := enc.Encode(result); werr != nil && *err == nil {
		*err = werr
	}
}
