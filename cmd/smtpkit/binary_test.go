package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// binDir holds the smtpkit binary the tests run, and a link to it named sendmail.
var binDir string

// buildBinaries builds the command into dir, with the race detector when
// the tests have it, and links it as sendmail.
func buildBinaries(dir string) error {
	gotool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building the binary needs the go command on PATH: %w", err)
	}
	exe := ""
	if runtime.GOOS == "windows" {
		exe = ".exe"
	}
	args := []string{"build", "-o", filepath.Join(dir, "smtpkit"+exe)}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command(gotool, append(args, ".")...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	sendmail := filepath.Join(dir, "sendmail"+exe)
	if err := os.Symlink("smtpkit"+exe, sendmail); err != nil {
		data, rerr := os.ReadFile(filepath.Join(dir, "smtpkit"+exe))
		if rerr != nil {
			return rerr
		}
		if err := os.WriteFile(sendmail, data, 0o755); err != nil {
			return err
		}
	}
	binDir = dir
	return nil
}

// execOpts say how to run the binary.
type execOpts struct {
	name  string   // "smtpkit" (the default) or "sendmail"
	stdin string   // standard input
	env   []string // NAME=value pairs added to a clean environment
	home  string   // $HOME; default: an empty temporary directory
}

// execResult is what a run of the binary left.
type execResult struct {
	stdout, stderr string
	code           int
}

func (r execResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// execBin runs the binary with args in a clean environment: no SMTPKIT_
// variables but those of o.env, and a $HOME of its own.
func execBin(t *testing.T, o execOpts, args ...string) execResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := binCommand(ctx, t, o, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := execResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("running %s %q: %v", o.name, args, err)
	}
	if strings.Contains(r.stderr, "WARNING: DATA RACE") {
		t.Errorf("the binary raced:\n%s", r.stderr)
	}
	return r
}

// binCommand prepares a run of the binary as execBin makes it, for a test
// that starts and stops it itself.
func binCommand(ctx context.Context, t *testing.T, o execOpts, args ...string) *exec.Cmd {
	t.Helper()
	if o.name == "" {
		o.name = "smtpkit"
	}
	if o.home == "" {
		o.home = t.TempDir()
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, o.name), args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + o.home,
		"USER=tester",
		"GORACE=exitcode=99 atexit_sleep_ms=0", // a race must not pass for an exit code of the binary's own
		// The queue a user has, even when the tests run as root, whose
		// default is the machine's /var/spool/smtpkit.
		"SMTPKIT_SPOOL=" + filepath.Join(o.home, ".local", "state", "smtpkit", "queue"),
	}, o.env...)
	cmd.Stdin = strings.NewReader(o.stdin)
	return cmd
}
