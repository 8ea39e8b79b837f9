package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// secretKind says where a Secret comes from.
type secretKind uint8

const (
	secretNone    secretKind = iota
	secretValue              // the value itself
	secretEnv                // an environment variable
	secretCommand            // the first line a command prints
)

// Secret is where a password or token comes from (the value itself, an
// environment variable, or a command run with `sh -c` as msmtp's
// passwordeval), read only by Resolve and never shown when printed.
type Secret struct {
	kind    secretKind
	text    string // the value, the variable's name or the command
	at      Origin // where it was read, for errors
	account string // the account it was read for, for errors
}

// SecretValue returns a Secret that is value itself; an empty value is no secret.
func SecretValue(value string) Secret {
	if value == "" {
		return Secret{}
	}
	return Secret{kind: secretValue, text: value}
}

// SecretFromEnv returns a Secret read from the environment variable name when resolved.
func SecretFromEnv(name string) Secret {
	if name == "" {
		return Secret{}
	}
	return Secret{kind: secretEnv, text: name}
}

// SecretFromCommand returns a Secret that is the first line the command, run with `sh -c` when resolved, prints.
func SecretFromCommand(command string) Secret {
	if command == "" {
		return Secret{}
	}
	return Secret{kind: secretCommand, text: command}
}

// IsZero reports whether s holds no secret.
func (s Secret) IsZero() bool { return s.kind == secretNone }

// EnvName returns the name of the environment variable s is read from, if it is.
func (s Secret) EnvName() (name string, ok bool) {
	return s.text, s.kind == secretEnv
}

// IsCommand reports whether s is read from a command.
func (s Secret) IsCommand() bool { return s.kind == secretCommand }

// String describes where the secret comes from without showing it: "<redacted>", "env:NAME", "command:<redacted>" or "<none>".
func (s Secret) String() string {
	switch s.kind {
	case secretValue:
		return "<redacted>"
	case secretEnv:
		return "env:" + s.text
	case secretCommand:
		return "command:<redacted>"
	}
	return "<none>"
}

// GoString describes the secret like String, for the %#v verb.
func (s Secret) GoString() string { return "config.Secret(" + s.String() + ")" }

// Format prints the secret as String does (GoString for %#v) whatever the verb.
func (s Secret) Format(f fmt.State, verb rune) {
	out := s.String()
	switch {
	case verb == 'v' && f.Flag('#'):
		out = s.GoString()
	case verb == 'q':
		out = strconv.Quote(out)
	}
	fmt.Fprint(f, out)
}

// LogValue logs the secret as String describes it.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Limits on what a password command may print.
const (
	maxCommandOutput = 1 << 20 // stdout kept; long enough for OAuth tokens
	maxCommandStderr = 512     // stderr quoted in errors
	commandWaitDelay = 2 * time.Second
)

// Resolve returns the secret, reading the environment variable or running
// the command (with `sh -c`, empty standard input, killed with the processes
// it started when ctx ends) for the first line of its output, with errors
// that name the setting and quote the command's standard error, less what
// it printed on its standard output and less the command line.
func (s Secret) Resolve(ctx context.Context) (string, error) {
	switch s.kind {
	case secretValue:
		return s.text, nil
	case secretEnv:
		v, ok := os.LookupEnv(s.text)
		switch {
		case !ok:
			return "", s.fail(fmt.Errorf("the environment variable %s is not set: set it, or read the secret another way", s.text))
		case v == "":
			return "", s.fail(fmt.Errorf("the environment variable %s is empty", s.text))
		}
		return v, nil
	case secretCommand:
		v, err := runCommand(ctx, s.text)
		if err != nil {
			return "", s.fail(redactCommand(err, s.text))
		}
		return v, nil
	}
	return "", nil
}

// fail names where the secret was read in err.
func (s Secret) fail(err error) error {
	if s.at == (Origin{}) && s.account == "" {
		return err
	}
	return &Error{Origin: s.at, Account: s.account, Err: err}
}

// runCommand runs command with `sh -c` and returns the first line of its output.
func runCommand(ctx context.Context, command string) (string, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	stdout := &limitedBuffer{max: maxCommandOutput}
	stderr := &limitedBuffer{max: maxCommandStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = commandWaitDelay
	killGroupOnCancel(cmd)

	err := cmd.Run()
	first, _, _ := bytes.Cut(stdout.Bytes(), []byte("\n"))
	first = bytes.TrimSuffix(first, []byte("\r"))
	switch {
	case err != nil && ctx.Err() != nil:
		return "", fmt.Errorf("the command did not finish in time and was killed: %w%s",
			ctx.Err(), stderrNote(stderr, stdout))
	case err != nil:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("the command failed (%v)%s", exit.ProcessState, stderrNote(stderr, stdout))
		}
		return "", fmt.Errorf("cannot run the command with sh -c: %w", err)
	case len(first) == 0:
		return "", fmt.Errorf("the command printed nothing on the first line of its standard output, "+
			"where the secret is expected%s", stderrNote(stderr, stdout))
	}
	return string(first), nil
}

// redactCommand returns err with the command line replaced, keeping what errors.Is matches.
func redactCommand(err error, command string) error {
	if !strings.Contains(err.Error(), command) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), command, "<command>"), err: err}
}

// redactedError is an error whose message was cleaned of a secret; its cause stays reachable for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return errors.Unwrap(e.err) }

// stderrNote quotes what the command wrote on its standard error, with
// every line it wrote on its standard output (a secret, perhaps) removed.
func stderrNote(stderr, stdout *limitedBuffer) string {
	text := string(stderr.Bytes())
	for _, line := range strings.Split(string(stdout.Bytes()), "\n") {
		if line = strings.TrimSpace(line); len(line) >= 3 {
			text = strings.ReplaceAll(text, line, "<redacted>")
		}
	}
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return ""
	}
	if stderr.truncated {
		text += " ..."
	}
	return "; it said on its standard error: " + strconv.Quote(text)
}

// limitedBuffer keeps the first max bytes written to it and discards the rest.
type limitedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.truncated = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// Bytes returns what was kept.
func (b *limitedBuffer) Bytes() []byte { return b.buf.Bytes() }
