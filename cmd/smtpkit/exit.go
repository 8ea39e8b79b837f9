package main

import (
	"errors"

	"github.com/smtpkit/smtpkit"
)

// usageError marks a mistake in the command line.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// Exit codes, one per failed phase, as swaks numbers them where it has one.
const (
	exitUsage    = 64 // EX_USAGE
	exitFailure  = 1
	exitConnect  = 2
	exitGreeting = 21
	exitEHLO     = 22
	exitAuth     = 28
	exitTLS      = 29
)

// exitCode says which phase failed.
func exitCode(err error) int {
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	var e *smtpkit.Error
	if !errors.As(err, &e) {
		return exitFailure
	}
	switch e.Phase {
	case smtpkit.PhaseConnect:
		return exitConnect
	case smtpkit.PhaseGreeting:
		return exitGreeting
	case smtpkit.PhaseEHLO:
		return exitEHLO
	case smtpkit.PhaseTLS, smtpkit.PhaseSTARTTLS:
		return exitTLS
	case smtpkit.PhaseAuth:
		return exitAuth
	}
	return exitFailure
}
