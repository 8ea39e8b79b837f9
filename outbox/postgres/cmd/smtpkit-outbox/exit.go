package main

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smtpkit/smtpkit/outbox"
)

// Exit codes, those of the smtpkit command (sysexits.h where it has one).
const (
	exitOK          = 0
	exitFailure     = 1  // anything else
	exitPartial     = 3  // run: some messages failed for good, others were delivered
	exitUsage       = 64 // EX_USAGE: a mistake in the command line, or no such entry
	exitDataErr     = 65 // EX_DATAERR: a message that cannot be sent as it is
	exitNoInput     = 66 // EX_NOINPUT: an input file that cannot be read
	exitUnavailable = 69 // EX_UNAVAILABLE: run: messages failed for good, none delivered
	exitTryLater    = 75 // EX_TEMPFAIL: messages stay queued; an entry being sent; the database unreachable now
	exitConfig      = 78 // EX_CONFIG: no URL, a bad URL, a database refusing the login or lacking the tables
)

// The kinds of failure, one per exit code.
type (
	usageError       struct{ error }
	configError      struct{ error }
	dataError        struct{ error }
	inputError       struct{ error }
	tryLaterError    struct{ error }
	unavailableError struct{ error }
	partialError     struct{ error }
)

func (e usageError) Unwrap() error       { return e.error }
func (e configError) Unwrap() error      { return e.error }
func (e dataError) Unwrap() error        { return e.error }
func (e inputError) Unwrap() error       { return e.error }
func (e tryLaterError) Unwrap() error    { return e.error }
func (e unavailableError) Unwrap() error { return e.error }
func (e partialError) Unwrap() error     { return e.error }

// exitCode returns the exit code of err.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		return exitUsage
	case errors.As(err, new(configError)):
		return exitConfig
	case errors.As(err, new(dataError)):
		return exitDataErr
	case errors.As(err, new(inputError)):
		return exitNoInput
	case errors.As(err, new(tryLaterError)):
		return exitTryLater
	case errors.As(err, new(unavailableError)):
		return exitUnavailable
	case errors.As(err, new(partialError)):
		return exitPartial
	}
	return exitFailure
}

// databaseError sorts an error of connecting to the database, or of
// finding the outbox's tables there: a server that cannot be reached now
// is worth trying again later; anything else (a URL that does not parse, a
// host name that does not resolve, a login or a database refused, tables
// missing or of another version) is the configuration's.
func databaseError(err error) error {
	var pe *pgconn.PgError
	var dns *net.DNSError
	switch {
	case errors.As(err, &pe):
		if pe.Code == "57P03" { // cannot_connect_now: the server is starting or shutting down
			return tryLaterError{err}
		}
		return configError{err}
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return configError{err}
		}
		return tryLaterError{err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, new(*net.OpError)):
		return tryLaterError{fmt.Errorf("the database cannot be reached now: %w", err)}
	}
	return configError{err}
}

// entryError sorts the Store's errors about one entry.
func entryError(err error) error {
	switch {
	case errors.Is(err, outbox.ErrNotFound):
		return usageError{err}
	case errors.Is(err, outbox.ErrBusy):
		return tryLaterError{err}
	}
	return err
}
