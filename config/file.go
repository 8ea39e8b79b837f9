package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File is what a configuration file holds: its accounts, the default one,
// and warnings about settings that have no effect.
type File struct {
	// Name is the file's name as given to the loader.
	Name string
	// Accounts are the file's accounts in the order they are defined, each
	// complete: defaults and inherited settings are filled in.
	Accounts []*Account
	// Default is the name of the account to use when none is chosen, or ""
	// when the file names none.
	Default string
	// Warnings lists the settings that were accepted but have no effect, or
	// work differently than in the program the file was written for.
	Warnings []Warning
}

// String names the file and its accounts.
func (f *File) String() string {
	return f.Name + ": accounts " + strings.Join(f.Names(), ", ")
}

// Names returns the names of the accounts, in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Accounts))
	for i, a := range f.Accounts {
		names[i] = a.Name
	}
	return names
}

// Account returns a copy of the account called name, or for "" the file's
// default: the one it names, else the account called "default", else the
// only one.
func (f *File) Account(name string) (*Account, error) {
	if name == "" {
		switch {
		case f.Default != "":
			name = f.Default
		case slices.Contains(f.Names(), "default"):
			name = "default"
		case len(f.Accounts) == 1:
			return f.Accounts[0].Clone(), nil
		case len(f.Accounts) == 0:
			return nil, &Error{Origin: Origin{File: f.Name}, Err: fmt.Errorf("the file defines no account")}
		default:
			return nil, &Error{Origin: Origin{File: f.Name}, Err: fmt.Errorf(
				"the file has %d accounts and names no default: choose one of %s, or name a default",
				len(f.Accounts), strings.Join(quoteAll(f.Names()), ", "))}
		}
	}
	for _, a := range f.Accounts {
		if a.Name == name {
			return a.Clone(), nil
		}
	}
	return nil, &Error{Origin: Origin{File: f.Name}, Err: fmt.Errorf("there is no account %s%s; the accounts are %s",
		strconv.Quote(name), didYouMean(name, f.Names()), strings.Join(quoteAll(f.Names()), ", "))}
}

// quoteAll quotes each string.
func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return q
}

// Load reads a configuration file in the format its name suggests: TOML for
// ".toml", .NET for ".config" and ".xml", and msmtprc for anything else.
func Load(path string) (*File, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		return LoadTOML(path)
	case ".config", ".xml":
		return LoadDotNetConfig(path)
	}
	return LoadMsmtprc(path)
}

// load reads path and parses it with parse, then warns when the file holds
// a password and others may read it.
func load(path string, parse func(string, []byte) (*File, error)) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Origin: Origin{File: path}, Err: fmt.Errorf("cannot read the configuration file: %w", err)}
	}
	f, err := parse(path, data)
	if err != nil {
		return nil, err
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 && f.holdsPassword() {
		f.Warnings = append(f.Warnings, Warning{Origin: Origin{File: path}, Message: fmt.Sprintf(
			"the file holds a password and others may read it (mode %04o): run chmod 600 %s, "+
				"or move the password out with password_command or password_env", info.Mode().Perm(), path)})
	}
	return f, nil
}

// holdsPassword reports whether an account has a password or token written in the file.
func (f *File) holdsPassword() bool {
	for _, a := range f.Accounts {
		if a.Password.kind == secretValue || a.Token.kind == secretValue {
			return true
		}
	}
	return false
}

// warn records a warning.
func (f *File) warn(o Origin, account, format string, args ...any) {
	f.Warnings = append(f.Warnings, Warning{Origin: o, Account: account, Message: fmt.Sprintf(format, args...)})
}
