package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSecretValueAndEnv(t *testing.T) {
	ctx := context.Background()
	if v, err := SecretValue("pw").Resolve(ctx); err != nil || v != "pw" {
		t.Errorf("SecretValue: %q, %v", v, err)
	}
	if v, err := (Secret{}).Resolve(ctx); err != nil || v != "" || !(Secret{}).IsZero() || !SecretValue("").IsZero() {
		t.Errorf("zero Secret: %q, %v", v, err)
	}
	t.Setenv("SMTPKIT_TEST_PW", "from-env")
	if v, err := SecretFromEnv("SMTPKIT_TEST_PW").Resolve(ctx); err != nil || v != "from-env" {
		t.Errorf("SecretFromEnv: %q, %v", v, err)
	}
	t.Setenv("SMTPKIT_TEST_EMPTY", "")
	if _, err := SecretFromEnv("SMTPKIT_TEST_EMPTY").Resolve(ctx); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty variable: %v", err)
	}
	if _, err := SecretFromEnv("SMTPKIT_TEST_NOT_SET").Resolve(ctx); err == nil || !strings.Contains(err.Error(), "is not set") {
		t.Errorf("unset variable: %v", err)
	}
}

func TestSecretFromCommand(t *testing.T) {
	ctx := context.Background()
	tests := []struct{ cmd, want string }{
		{"echo secret", "secret"},
		{"printf 'first line\\nsecond line\\n'", "first line"},
		{"printf 'crlf\\r\\n'", "crlf"},
		{"printf 'no newline'", "no newline"},
		{"printf '  spaces kept  \\n'", "  spaces kept  "},
		{"read x; echo \"stdin is empty: $x.\"", "stdin is empty: ."},
	}
	for _, tt := range tests {
		v, err := SecretFromCommand(tt.cmd).Resolve(ctx)
		if err != nil || v != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.cmd, v, err, tt.want)
		}
	}
}

func TestSecretCommandFails(t *testing.T) {
	f, err := ParseTOML("pw.toml", []byte("[accounts.a]\nhost = \"h\"\nuser = \"u\"\n"+
		"password_command = \"echo half-secret; echo gpg: decryption failed >&2; echo half-secret >&2; exit 3\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := mustAccount(t, f, "a")
	_, err = a.Options(context.Background())
	wantError(t, err, "pw.toml", 4, "password_command", "exit status 3", "gpg: decryption failed")
	if strings.Contains(err.Error(), "half-secret") {
		t.Errorf("error %q shows what the command printed", err)
	}

	_, err = SecretFromCommand("true").Resolve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "printed nothing") {
		t.Errorf("silent command: %v", err)
	}
	_, err = SecretFromCommand("no-such-program-q7x9").Resolve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exit status 127") || strings.Contains(err.Error(), "q7x9") {
		t.Errorf("missing program: %v (it must not repeat the command)", err)
	}
	_, err = SecretFromCommand("exit 1").Resolve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exit status 1") || strings.Contains(err.Error(), "exit 1") {
		t.Errorf("failing command: %v (it must not show the command)", err)
	}
}

func TestSecretCommandBoundedByContext(t *testing.T) {
	for _, cmd := range []string{
		"sleep 60",
		"sleep 60 & sleep 61; wait",                             // a child holds stdout open
		"echo almost-secret; exec sleep 60",                     // printed, then hangs
		"trap '' TERM INT; while :; do sleep 1; done",           // ignores polite signals
		"(sleep 60 >/dev/null 2>&1 &); echo detached; sleep 60", // a grandchild outside the wait
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := SecretFromCommand(cmd).Resolve(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v; want context.DeadlineExceeded", cmd, err)
		}
		if err != nil && (strings.Contains(err.Error(), "almost-secret") || strings.Contains(err.Error(), "sleep")) {
			t.Errorf("%s: error %q shows the command or its output", cmd, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := SecretFromCommand("echo x").Resolve(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestLimitedBuffer(t *testing.T) {
	b := &limitedBuffer{max: 4}
	n, err := b.Write([]byte("abcdef"))
	if n != 6 || err != nil || string(b.Bytes()) != "abcd" || !b.truncated {
		t.Errorf("Write: %d, %v, %q", n, err, b.Bytes())
	}
	b.Write([]byte("gh"))
	if string(b.Bytes()) != "abcd" {
		t.Errorf("after the limit: %q", b.Bytes())
	}
}
