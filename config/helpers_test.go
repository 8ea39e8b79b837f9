package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// wantError checks that err is an error that names the file, the line and
// the key, and holds every one of the fragments.
func wantError(t *testing.T, err error, file string, line int, key string, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one at %s:%d for key %q", file, line, key)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %q (%T) is not an *Error", err, err)
	}
	msg := err.Error()
	where := file + ":" + strconv.Itoa(line)
	if !strings.Contains(msg, where+":") {
		t.Errorf("error %q does not name %s", msg, where)
	}
	if key != "" && !strings.Contains(msg, "key "+strconv.Quote(key)) {
		t.Errorf("error %q does not name the key %q", msg, key)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error %q does not say %q", msg, f)
		}
	}
}

// mustAccount returns the account called name of f.
func mustAccount(t *testing.T, f *File, name string) *Account {
	t.Helper()
	a, err := f.Account(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// writeFile writes data to a new file in a temporary directory.
func writeFile(t *testing.T, name, data string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// home returns the home directory, for expected file names.
func home(t *testing.T) string {
	t.Helper()
	h, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	return h
}
