package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/config"
	"github.com/smtpkit/smtpkit/outbox"
)

// spoolHelp says where the queue lives; it ends the help of the commands
// that use it.
const spoolHelp = `The queue: a message waits in a spool directory (package outbox), one per
account, since an entry records its envelope and not the server it goes to.
The directory holding them is --spool DIR, else $SMTPKIT_SPOOL, else
/var/spool/smtpkit for root, else $XDG_STATE_HOME/smtpkit/queue
(~/.local/state/smtpkit/queue). In it, an account's spool is named after
the account ("work"); an account without a name (from --server, --url or
the environment) after its host and port ("smtp.example.com_587"). Other
characters than letters, digits, ".", "-" and "_" become "_", followed by a
short hash of the name. The queue commands, send --queue and sendmail find
the spool the same way, so give them the same account.`

// systemSpool is root's spool directory, where mail transfer agents keep theirs.
const systemSpool = "/var/spool/smtpkit"

// spoolBase returns the directory holding one spool per account: flag
// (--spool), else $SMTPKIT_SPOOL, else systemSpool for root, else the XDG
// state directory's smtpkit/queue.
func spoolBase(flag string) (string, error) {
	return spoolBaseOf(flag, os.Getenv, runtime.GOOS != "windows" && os.Geteuid() == 0, os.UserHomeDir)
}

// spoolBaseOf is spoolBase with the environment, the user and the home
// directory as arguments.
func spoolBaseOf(flag string, getenv func(string) string, root bool, homeDir func() (string, error)) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if d := getenv("SMTPKIT_SPOOL"); d != "" {
		return d, nil
	}
	if root {
		return systemSpool, nil
	}
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "smtpkit", "queue"), nil
	}
	home, err := homeDir()
	if err != nil || home == "" {
		return "", configError{errors.New("no directory for the queue: there is no home directory; " +
			"give --spool DIR or set $SMTPKIT_SPOOL")}
	}
	return filepath.Join(home, ".local", "state", "smtpkit", "queue"), nil
}

// spoolName names an account's spool: the account's name, or for an
// account without one its host and port, such as "smtp.example.com_587".
// A name that is not a plain file name (other characters than letters,
// digits, ".", "-" and "_", a leading "." or "-", too long) has those
// characters replaced by "_" and a short hash of the name added, so that
// it can name no other directory and two names stay apart.
func spoolName(acct *config.Account) string {
	name := acct.Name
	if name == "" {
		host, port := splitServer(acct.Addr())
		name = host + "_" + port
	}
	plain := len(name) <= 64 && name != "" && name[0] != '.' && name[0] != '-'
	var b strings.Builder
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
			plain = false
		}
	}
	if plain {
		return name
	}
	safe := strings.TrimLeft(b.String(), ".-")
	if len(safe) > 48 {
		safe = safe[:48]
	}
	sum := sha256.Sum256([]byte(name))
	return safe + "-" + hex.EncodeToString(sum[:4])
}

// spoolDir returns the spool of acct under the base directory that flag
// (--spool) or the defaults name.
func spoolDir(flag string, acct *config.Account) (string, error) {
	base, err := spoolBase(flag)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, spoolName(acct)), nil
}

// openSpool opens (and creates) the spool dir; its failures are the
// queue's.
func openSpool(dir string) (*outbox.Spool, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, queueError{fmt.Errorf("the queue %s: %w", dir, err)}
	}
	s, err := outbox.OpenSpool(dir)
	if err != nil {
		return nil, queueError{fmt.Errorf("the queue %s: %w", dir, err)}
	}
	return s, nil
}

// queueError marks a failure of the queue itself: a spool that cannot be
// created, read or written (a full disk, a read-only file system).
type queueError struct{ error }

func (e queueError) Unwrap() error { return e.error }

// queueing is how one command uses the queue.
type queueing struct {
	dir  string // the account's spool
	err  error  // why there is none (no home directory): sending goes on without the queue
	hint string // the command that sends what stays queued
	// prog starts the notes on standard error: "smtpkit" or "sendmail".
	prog string
}

// newQueueing is how a command uses the spool of acct under flag's
// directory (--spool, else the default).
func newQueueing(flag string, acct *config.Account, prog, hint string) *queueing {
	dir, err := spoolDir(flag, acct)
	return &queueing{dir: dir, err: err, prog: prog, hint: hint}
}

// open opens the spool, creating it.
func (q *queueing) open() (*outbox.Spool, error) {
	if q.err != nil {
		return nil, q.err
	}
	return openSpool(q.dir)
}

// enqueueOnly queues msg without sending it (sendmail -odq).
func (q *queueing) enqueueOnly(ctx context.Context, env *smtpkit.Envelope, msg io.Reader) (string, error) {
	spool, err := q.open()
	if err != nil {
		return "", err
	}
	defer spool.Close()
	id, err := spool.Enqueue(ctx, env, msg)
	if err != nil {
		if errors.Is(err, smtpkit.ErrInvalidArgument) {
			return "", usageError{err}
		}
		return "", queueError{err}
	}
	return id, nil
}

// queueHint is the command that sends what a command queued: queue run,
// with the flags that find the same account and spool ("" when not given).
func queueHint(configFile, account, spool, server string) string {
	hint := "smtpkit queue run"
	for _, f := range []struct{ flag, value string }{
		{"--config", configFile}, {"--account", account}, {"--server", server}, {"--spool", spool},
	} {
		if f.value != "" {
			hint += " " + f.flag + " " + shellQuote(f.value)
		}
	}
	return hint
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
