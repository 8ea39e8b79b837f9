package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/proxy"
)

// usageError marks a mistake in the command line.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// configError marks a problem with a configuration file, the environment's
// settings, or a password command.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// messageError marks a message that cannot be sent as it is, such as one
// that names no recipient.
type messageError struct{ error }

func (e messageError) Unwrap() error { return e.error }

// inputError marks an input file or directory that cannot be read.
type inputError struct{ error }

func (e inputError) Unwrap() error { return e.error }

// tryLaterError says that messages stay in the queue for a later attempt,
// or that a queued message was being sent and could not be touched.
type tryLaterError struct{ error }

func (e tryLaterError) Unwrap() error { return e.error }

// failedForGoodError says that queued messages failed for good and none
// was delivered.
type failedForGoodError struct{ error }

func (e failedForGoodError) Unwrap() error { return e.error }

// partialError says that some messages or recipients were refused while
// others were accepted.
type partialError struct {
	failed, total int    // messages, or recipients when what is "recipients"
	what          string // "messages" or "recipients"
}

func (e *partialError) Error() string {
	return fmt.Sprintf("%d of %d %s refused or failed, the others were accepted", e.failed, e.total, e.what)
}

// Exit codes, one per failed phase, numbered as swaks numbers them where it
// has a number.
const (
	exitOK             = 0
	exitFailure        = 1  // anything else
	exitConnect        = 2  // TCP connection, for another reason than those below
	exitPartial        = 3  // some messages or recipients refused, others accepted
	exitDNS            = 4  // the server's name does not resolve
	exitRefused        = 5  // connection refused: nothing listens there
	exitConnectTimeout = 6  // no answer within the connect timeout
	exitGreeting       = 21 // the 220 greeting
	exitEHLO           = 22 // EHLO/HELO
	exitMail           = 23 // MAIL FROM
	exitRcpt           = 24 // RCPT TO: no recipient accepted
	exitData           = 25 // DATA/BDAT and the message
	exitAuth           = 28 // AUTH
	exitTLS            = 29 // TLS handshake, STARTTLS, certificate
	exitProxy          = 30 // the proxy refused or failed
	exitUsage          = 64 // EX_USAGE: a mistake in the command line
	exitDataErr        = 65 // EX_DATAERR: a message that cannot be sent as it is
	exitNoInput        = 66 // EX_NOINPUT: an input file that cannot be read
	exitUnavailable    = 69 // EX_UNAVAILABLE: queued messages failed for good, none delivered
	exitTryLater       = 75 // EX_TEMPFAIL: messages stay queued for a later attempt
	exitConfig         = 78 // EX_CONFIG: a configuration file or setting
)

// exitCodeTable is every exit code of the commands but sendmail, with what
// it means: the one list that --help and the README show.
var exitCodeTable = []struct {
	code int
	text string
}{
	{exitOK, "success"},
	{exitFailure, "any other failure"},
	{exitConnect, "connect: the TCP connection failed (network unreachable, reset, ...)"},
	{exitPartial, "partial: some messages (send --dir, --mbox) or recipients were refused, the others accepted"},
	{exitDNS, "DNS: the server's name does not resolve"},
	{exitRefused, "refused: the host answered that nothing listens on that port"},
	{exitConnectTimeout, "connect timeout: no answer within --connect-timeout (a firewall dropping packets, a wrong address)"},
	{exitGreeting, "greeting: no 220 greeting, or a refusal"},
	{exitEHLO, "EHLO (and HELO) refused"},
	{exitMail, "MAIL FROM refused (or the message is too large, or needs an extension the server lacks)"},
	{exitRcpt, "RCPT TO: no recipient accepted"},
	{exitData, "DATA: the message refused"},
	{exitAuth, "AUTH: the login failed"},
	{exitTLS, "TLS: STARTTLS missing or refused, handshake or certificate failed"},
	{exitProxy, "proxy: the proxy refused or failed"},
	{exitUsage, "usage: a mistake in the command line"},
	{exitDataErr, "a message that cannot be sent as it is (empty, no recipient, unreadable header)"},
	{exitNoInput, "an input file or directory that cannot be read"},
	{exitUnavailable, "queue run: messages failed for good (refused, or given up on after 5 days), none delivered"},
	{exitTryLater, "queue run: messages stay in the queue for a later attempt; queue retry or delete: the message is being sent"},
	{exitConfig, "configuration: a bad file or setting, or a password command that failed"},
}

// exitCodesHelp lists the exit codes for the root command's help.
var exitCodesHelp = func() string {
	var b strings.Builder
	b.WriteString("Exit codes (which phase failed; swaks's numbers where it has one):\n")
	for _, c := range exitCodeTable {
		fmt.Fprintf(&b, "  %2d  %s\n", c.code, wrap(c.text, 70, "      "))
	}
	b.WriteString(`In bulk sending, when every message failed the code is that of the first
failure; when some went through, 3. The sendmail command uses the sysexits
codes instead: see smtpkit sendmail --help.`)
	return b.String()
}()

// wrap breaks text into lines of at most width bytes, the second and later
// ones starting with indent.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, w := range strings.Fields(text) {
		if i > 0 && line+1+len(w) > width {
			b.WriteString("\n" + indent)
			line = 0
		} else if i > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

// exitCode says which phase failed.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var sx sysexitsError
	if errors.As(err, &sx) {
		return sysexitCode(sx.error)
	}
	var partial *partialError
	switch {
	case errors.As(err, new(usageError)):
		return exitUsage
	case errors.As(err, new(configError)):
		return exitConfig
	case errors.As(err, new(messageError)):
		return exitDataErr
	case errors.As(err, new(inputError)):
		return exitNoInput
	case errors.As(err, &partial):
		return exitPartial
	case errors.As(err, new(tryLaterError)):
		return exitTryLater
	case errors.As(err, new(failedForGoodError)):
		return exitUnavailable
	case errors.As(err, new(queueError)):
		return exitFailure
	case errors.Is(err, smtpkit.ErrInvalidOptions):
		return exitConfig // a setting found bad when used, such as a file that cannot be read
	}
	var e *smtpkit.Error
	if !errors.As(err, &e) {
		return exitFailure
	}
	switch e.Phase {
	case smtpkit.PhaseConnect:
		switch {
		case errors.As(err, new(*proxy.Error)):
			return exitProxy
		case errors.Is(err, smtpkit.ErrNameNotResolved):
			return exitDNS
		case errors.Is(err, smtpkit.ErrConnectionRefused):
			return exitRefused
		case errors.Is(err, smtpkit.ErrConnectTimeout):
			return exitConnectTimeout
		}
		return exitConnect
	case smtpkit.PhaseGreeting:
		return exitGreeting
	case smtpkit.PhaseEHLO:
		return exitEHLO
	case smtpkit.PhaseTLS, smtpkit.PhaseSTARTTLS:
		return exitTLS
	case smtpkit.PhaseAuth:
		return exitAuth
	case smtpkit.PhaseMail:
		return exitMail
	case smtpkit.PhaseRcpt:
		return exitRcpt
	case smtpkit.PhaseData:
		return exitData
	}
	return exitFailure
}

// The sysexits codes of sendmail mode.
const (
	exUsage       = 64 // EX_USAGE
	exDataErr     = 65 // EX_DATAERR
	exNoInput     = 66 // EX_NOINPUT
	exNoHost      = 68 // EX_NOHOST
	exUnavailable = 69 // EX_UNAVAILABLE
	exSoftware    = 70 // EX_SOFTWARE
	exTempFail    = 75 // EX_TEMPFAIL
	exProtocol    = 76 // EX_PROTOCOL
	exNoPerm      = 77 // EX_NOPERM
	exConfig      = 78 // EX_CONFIG
)

// sysexitsHelp lists the exit codes of sendmail mode.
const sysexitsHelp = `Exit codes (sysexits.h, as sendmail and msmtp use them):
   0  the server accepted the message for every recipient, or what it
      could not take now was queued (a note on standard error says so)
  64  EX_USAGE        a mistake in the command line
  65  EX_DATAERR      the message names no recipient, or its header is unreadable
  66  EX_NOINPUT      the input cannot be read
  68  EX_NOHOST       the server's name does not resolve
  69  EX_UNAVAILABLE  a permanent refusal (5xx), a TLS failure, or some
                      recipients refused while others accepted the message
                      (trying again would send it twice); with -q, queued
                      messages that failed for good
  75  EX_TEMPFAIL     not queued: a temporary refusal (4xx), a connection
                      refused or a time limit with queue_on_failure = false;
                      a message that may have been delivered (RFC 1047); a
                      queue that cannot be written. Try again later
  76  EX_PROTOCOL     the server broke the SMTP protocol
  77  EX_NOPERM       the login failed
  78  EX_CONFIG       no account, or a bad configuration file or setting`

// sysexitCode maps an error to the sysexits code sendmail mode exits with.
func sysexitCode(err error) int {
	if err == nil {
		return exitOK
	}
	switch {
	case errors.As(err, new(usageError)):
		return exUsage
	case errors.As(err, new(configError)):
		return exConfig
	case errors.As(err, new(messageError)):
		return exDataErr
	case errors.As(err, new(inputError)):
		return exNoInput
	case errors.As(err, new(*partialError)), errors.As(err, new(failedForGoodError)):
		return exUnavailable
	case errors.As(err, new(tryLaterError)), errors.As(err, new(queueError)):
		return exTempFail // the queue's disk full or read-only: nothing was queued, try again later
	case errors.Is(err, smtpkit.ErrInvalidOptions):
		return exConfig
	}
	var e *smtpkit.Error
	if !errors.As(err, &e) {
		return exSoftware
	}
	var dns *net.DNSError
	switch {
	case e.Temporary():
		return exTempFail
	case errors.Is(err, smtpkit.ErrProtocol):
		return exProtocol
	case e.Phase == smtpkit.PhaseAuth:
		return exNoPerm
	case e.Phase == smtpkit.PhaseConnect && errors.As(err, &dns) && dns.IsNotFound:
		return exNoHost
	case e.Phase == smtpkit.PhaseConnect && errors.As(err, new(*proxy.Error)):
		return exUnavailable
	case e.Phase == smtpkit.PhaseTLS || e.Phase == smtpkit.PhaseSTARTTLS:
		return exUnavailable
	case e.Code == 0 && e.Phase != smtpkit.PhaseRcpt:
		// No reply: the connection failed, closed or timed out.
		return exTempFail
	}
	return exUnavailable
}
