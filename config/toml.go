package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// LoadTOML reads a configuration file in smtpkit's TOML format; see ParseTOML.
func LoadTOML(path string) (*File, error) {
	return load(path, ParseTOML)
}

// ParseTOML parses data, the contents of the file called name, in smtpkit's
// TOML format:
//
//	default_account = "work"        # the account used when none is chosen
//
//	[defaults]                      # settings every account starts from
//	security = "starttls"
//	connect_timeout = "15s"
//
//	[accounts.work]
//	host = "smtp.example.com"
//	port = 587
//	user = "alice@example.com"
//	password_command = "pass show mail/work"
//	from = "alice@example.com"
//
//	[accounts.work-tls]
//	inherit = "work"                # work's settings, then these
//	security = "implicit-tls"
//	port = 465
//
// An account starts from [defaults], then takes the settings of the
// account it inherits from (which may inherit in turn; a cycle is an error),
// then its own. The keys, all optional, are:
//
//	host, port                 the server; port 0 or absent: 465 for implicit-tls, else 587
//	security                   "tls-auto" (the default), "auto", "implicit-tls",
//	                           "starttls", "starttls-if-offered" or "none"
//	from                       the envelope sender
//	ehlo_name                  the name sent with EHLO
//	connect_timeout, greeting_timeout, command_timeout, data_timeout, timeout
//	                           Go durations such as "30s"; see smtpkit.Options
//	tls_versions               such as ["1.2", "1.3"]; "1.0", "1.1" and "ssl3" too
//	tls_strict_versions        refuse versions Go cannot speak instead of dropping them
//	tls_ca_file                PEM CAs to trust instead of the system's
//	tls_cert_file, tls_key_file  a PEM client certificate and its key
//	tls_fingerprints           SHA-256 pins, such as ["5E:A1:..."]
//	tls_server_name            the name the certificate must hold
//	tls_insecure_skip_verify   skip certificate checks (tests only)
//	auth                       false: never log in; true: always (default: when
//	                           a user, password or token is set)
//	auth_mechanisms            such as ["SCRAM-SHA-256", "PLAIN"]
//	allow_cleartext_auth       allow PLAIN, LOGIN, XOAUTH2 without TLS
//	user                       the login name
//	password                   the password itself (allowed, never required)
//	password_env               an environment variable holding the password
//	password_command           a command printing the password (run with sh -c)
//	token, token_env, token_command  the same for an OAuth 2 token
//	proxy                      a proxy URL, such as "socks5h://127.0.0.1:9050"
//	proxy_from_environment     take the proxy from ALL_PROXY and NO_PROXY
//	local_address              the local IP address to connect from
//	queue_on_failure           when the server cannot take a message now (a 4xx
//	                           reply, a failed connection, a time limit), keep
//	                           it in the outbox and send it later: true for
//	                           smtpkit send; sendmail does so unless false
//	inherit                    (accounts only) the account to start from
//
// Unknown tables and keys, values of the wrong type, bad durations, ports
// and names are errors naming the file, the line and the key. A "~/" at the
// start of a file name stands for the home directory.
func ParseTOML(name string, data []byte) (*File, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, tomlSyntaxError(name, data, err)
	}
	r := &tomlReader{
		name:     name,
		file:     &File{Name: name},
		defaults: &Account{DefinedAt: Origin{File: name}},
		accounts: map[string]*tomlAccount{},
	}
	r.p.Reset(data)
	var table []string
	for !r.errs.full() && r.p.NextExpression() {
		e := r.p.Expression()
		switch e.Kind {
		case unstable.Table:
			parts, line := r.keyOf(e)
			table = parts
			r.table(parts, line)
		case unstable.ArrayTable:
			parts, line := r.keyOf(e)
			table = parts
			r.errs.add(Origin{File: name, Line: line, Key: strings.Join(parts, ".")}, "",
				"arrays of tables ([[...]]) are not used: write [accounts.NAME] for each account")
		case unstable.KeyValue:
			parts, line := r.keyOf(e)
			r.assign(append(append([]string(nil), table...), parts...), e.Value(), line)
		}
	}
	if err := r.p.Error(); err != nil {
		r.errs.add(Origin{File: name}, "", "TOML syntax error: %v", err)
	}
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	r.resolve()
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	return r.file, nil
}

// tomlSyntaxError turns go-toml's error into an *Error with the line,
// column and key, and a hint in TOML's terms when the line shows what went
// wrong. It keeps go-toml's message and position but not its excerpt of
// the file, which could show a password.
func tomlSyntaxError(name string, data []byte, err error) error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return &Error{Origin: Origin{File: name}, Err: fmt.Errorf("cannot parse the TOML: %v", err)}
	}
	row, col := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	return &Error{
		Origin: Origin{File: name, Line: row, Column: col, Key: strings.Join(de.Key(), ".")},
		Err:    fmt.Errorf("TOML syntax error: %s%s", msg, tomlValueHint(data, row)),
	}
}

// tomlValueHint looks at line row of data and, when it is a key = value
// line whose value is missing or written bare, says how TOML writes a
// value; otherwise "". It never shows the value, which may be a secret.
func tomlValueHint(data []byte, row int) string {
	lines := strings.Split(string(data), "\n")
	if row < 1 || row > len(lines) {
		return ""
	}
	key, value, ok := strings.Cut(lines[row-1], "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" || strings.ContainsAny(key, "[]\"'") {
		return ""
	}
	value, _, _ = strings.Cut(value, "#")
	value = strings.TrimSpace(value)
	switch {
	case value == "":
		return fmt.Sprintf(" (give %s a value after the =, such as %s = \"...\", or remove the line)", key, key)
	case strings.ContainsAny(value[:1], "\"'[{"):
		return ""
	}
	return fmt.Sprintf(" (a text value goes in double quotes: %s = \"...\"; numbers, true and false go bare)", key)
}

// tomlReader walks a TOML document with its positions.
type tomlReader struct {
	name     string
	p        unstable.Parser
	errs     errorList
	file     *File
	defaults *Account
	accounts map[string]*tomlAccount
	order    []string
	seen     map[*Account]map[field]string // the key that set each field, per table
	defName  string
	defAt    Origin
}

// tomlAccount is an account's own settings, before defaults and inheritance.
type tomlAccount struct {
	own       *Account
	inherit   string
	inheritAt Origin
}

// keyOf returns the parts of a Table, ArrayTable or KeyValue's key and the line it starts on.
func (r *tomlReader) keyOf(n *unstable.Node) ([]string, int) {
	var parts []string
	line := 0
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = r.lineOf(k)
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
}

// lineOf returns the line a node starts on, or 0 when it has no position.
func (r *tomlReader) lineOf(n *unstable.Node) int {
	if n.Raw.Length == 0 {
		return 0
	}
	return r.p.Shape(n.Raw).Start.Line
}

// table handles a [table] header.
func (r *tomlReader) table(parts []string, line int) {
	switch {
	case len(parts) == 1 && (parts[0] == "defaults" || parts[0] == "accounts"):
	case len(parts) == 2 && parts[0] == "accounts":
		r.account(parts[1], line)
	default:
		r.errs.add(Origin{File: r.name, Line: line, Key: strings.Join(parts, ".")}, "",
			"there is no such table: the tables are [defaults] and [accounts.NAME]")
	}
}

// account returns the account called name, defining it at line if it is new.
func (r *tomlReader) account(name string, line int) *tomlAccount {
	if a, ok := r.accounts[name]; ok {
		return a
	}
	a := &tomlAccount{own: &Account{Name: name, DefinedAt: Origin{File: r.name, Line: line}}}
	r.accounts[name] = a
	r.order = append(r.order, name)
	return a
}

// assign handles the value v of the key at path (table and key parts together).
func (r *tomlReader) assign(path []string, v *unstable.Node, line int) {
	o := Origin{File: r.name, Line: line, Key: strings.Join(path, ".")}
	if v.Kind == unstable.InlineTable && !r.isSetting(path) {
		r.inline(path, v)
		return
	}
	switch {
	case len(path) == 1 && path[0] == "default_account":
		if v.Kind != unstable.String || len(v.Data) == 0 {
			r.errs.add(o, "", "want the name of an account, such as \"work\"")
			return
		}
		r.defName, r.defAt = string(v.Data), o
	case len(path) == 2 && path[0] == "defaults":
		r.setting(r.defaults, "", path[1], v, line)
	case len(path) == 2 && path[0] == "accounts":
		r.errs.add(o, path[1], "an account is a table: write [accounts.%s] and its settings below it", path[1])
	case len(path) == 3 && path[0] == "accounts":
		a := r.account(path[1], line)
		if path[2] == "inherit" {
			o.Key = "inherit"
			if v.Kind != unstable.String || len(v.Data) == 0 {
				r.errs.add(o, path[1], "want the name of the account to inherit from, such as \"work\"")
				return
			}
			a.inherit, a.inheritAt = string(v.Data), o
			return
		}
		r.setting(a.own, path[1], path[2], v, line)
	case len(path) > 2 && (path[0] == "defaults" || path[0] == "accounts"):
		account, key := "", strings.Join(path[1:], ".")
		if path[0] == "accounts" {
			account, key = path[1], strings.Join(path[2:], ".")
		}
		o.Key = key
		r.errs.add(o, account, "there is no such setting; a setting's name has no dots%s", didYouMean(key, keyNames()))
	default:
		r.errs.add(o, "", "there is no such key here: the top level holds default_account, [defaults] and [accounts.NAME]")
	}
}

// isSetting reports whether path names a setting (whose value is never a table).
func (r *tomlReader) isSetting(path []string) bool {
	switch {
	case len(path) == 2 && path[0] == "defaults":
		_, ok := keys[path[1]]
		return ok
	case len(path) == 3 && path[0] == "accounts":
		_, ok := keys[path[2]]
		return ok || path[2] == "inherit"
	}
	return len(path) == 1 && path[0] == "default_account"
}

// inline handles an inline table, such as accounts.work = { host = "..." }.
func (r *tomlReader) inline(path []string, t *unstable.Node) {
	if len(path) == 2 && path[0] == "accounts" {
		r.account(path[1], 0)
	}
	it := t.Children()
	for it.Next() {
		kv := it.Node()
		if kv.Kind != unstable.KeyValue {
			continue
		}
		parts, line := r.keyOf(kv)
		r.assign(append(append([]string(nil), path...), parts...), kv.Value(), line)
	}
}

// setting stores the setting key = v in a.
func (r *tomlReader) setting(a *Account, account, key string, v *unstable.Node, line int) {
	o := Origin{File: r.name, Line: line, Key: key}
	if a.DefinedAt.Line == 0 {
		a.DefinedAt.Line = line
	}
	k, ok := keys[key]
	if !ok {
		hint := didYouMean(key, keyNames())
		if hint == "" {
			hint = "; the settings are " + strings.Join(keyNames(), ", ")
		}
		r.errs.add(o, account, "there is no such setting%s", hint)
		return
	}
	if r.seen == nil {
		r.seen = map[*Account]map[field]string{}
	}
	if r.seen[a] == nil {
		r.seen[a] = map[field]string{}
	}
	if prev, ok := r.seen[a][k.field]; ok && prev != key {
		r.errs.add(o, account, "%s is set too, and both say the same thing: keep one", strconv.Quote(prev))
		return
	}
	r.seen[a][k.field] = key
	val, err := tomlValue(v)
	if err == nil {
		err = a.apply(o, key, val)
	}
	if err != nil {
		r.errs.addErr(&Error{Origin: o, Account: account, Err: err})
	}
}

// tomlValue converts a value node.
func tomlValue(v *unstable.Node) (value, error) {
	switch v.Kind {
	case unstable.String:
		return value{kind: kString, s: string(v.Data)}, nil
	case unstable.Bool:
		return value{kind: kBool, b: string(v.Data) == "true"}, nil
	case unstable.Integer:
		n, err := parseTOMLInt(string(v.Data))
		if err != nil {
			return value{}, err
		}
		return value{kind: kInt, n: n}, nil
	case unstable.Array:
		out := value{kind: kList, list: []string{}}
		it := v.Children()
		for it.Next() {
			item := it.Node()
			if item.Kind != unstable.String {
				return value{}, errors.New("want a list of strings, such as [\"a\", \"b\"]; an item is not a string")
			}
			out.list = append(out.list, string(item.Data))
		}
		return out, nil
	case unstable.Float:
		return value{}, errors.New("want the type the key takes, not a floating-point number")
	case unstable.InlineTable:
		return value{}, errors.New("want the type the key takes, not a table")
	}
	return value{}, errors.New("want the type the key takes, not a date or time")
}

// parseTOMLInt parses a TOML integer: decimal with underscores, or 0x, 0o, 0b.
func parseTOMLInt(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer this program can hold", showValue(s))
	}
	return n, nil
}

// resolve fills in defaults and inheritance, in file order.
func (r *tomlReader) resolve() {
	done := map[string]*Account{}
	failed := map[string]bool{}
	var visit func(name string, chain []string) *Account
	visit = func(name string, chain []string) *Account {
		if a, ok := done[name]; ok || failed[name] {
			return a
		}
		failed[name] = true // until it succeeds; a cycle is reported once
		t := r.accounts[name]
		out := r.defaults.Clone()
		out.Name, out.DefinedAt = name, t.own.DefinedAt
		if t.inherit != "" {
			chain = append(chain[:len(chain):len(chain)], name)
			for i, c := range chain {
				if c == t.inherit {
					cycle := append(append([]string(nil), chain[i:]...), t.inherit)
					r.errs.add(t.inheritAt, name, "inheritance forms a cycle (%s): remove one of these inherit keys",
						strings.Join(cycle, " -> "))
					return nil
				}
			}
			if _, ok := r.accounts[t.inherit]; !ok {
				r.errs.add(t.inheritAt, name, "there is no account %s to inherit from%s", strconv.Quote(t.inherit),
					didYouMean(t.inherit, r.order))
				return nil
			}
			parent := visit(t.inherit, chain)
			if parent == nil {
				return nil
			}
			out.overlay(parent)
		}
		out.overlay(t.own)
		done[name] = out
		delete(failed, name)
		return out
	}
	for _, name := range r.order {
		if a := visit(name, nil); a != nil {
			r.file.Accounts = append(r.file.Accounts, a)
		}
	}
	if r.defName != "" {
		if _, ok := r.accounts[r.defName]; !ok {
			r.errs.add(r.defAt, "", "there is no account %s%s", strconv.Quote(r.defName), didYouMean(r.defName, r.order))
		}
		r.file.Default = r.defName
	}
}
