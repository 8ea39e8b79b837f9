package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit"
)

// ParseURL parses an account from a URL such as
//
//	smtp://user:password@smtp.example.com:587?security=starttls&timeout=30s&from=me@example.com
//	smtps://user@smtp.example.com?password_command=pass+show+mail&auth=SCRAM-SHA-256,PLAIN
//
// The scheme smtp leaves the security mode to the query (default tls-auto);
// smtps means implicit TLS (port 465 by default) and cannot be combined with
// another security. The user and password are percent-decoded; every other
// setting is a query parameter named as in the TOML format (see ParseTOML),
// lists comma-separated, and "auth" is a short form of auth_mechanisms
// ("auth=off" turns login off). Unknown or repeated parameters, a path and a
// fragment are errors. Errors never repeat the URL or the password.
func ParseURL(raw string) (*Account, error) {
	a := &Account{DefinedAt: Origin{File: "URL"}}
	fail := func(key, format string, args ...any) error {
		return &Error{Origin: Origin{File: "URL", Key: key}, Err: fmt.Errorf(format, args...)}
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Parse's messages repeat parts of the URL, a password's included: keep none of them.
		reason := "a character in the user or password must be percent-encoded, such as / as %2F, @ as %40, # as %23"
		var esc url.EscapeError
		switch {
		case errors.As(err, &esc):
			reason = "a %-escape is malformed (write a literal % as %25)"
		case strings.Contains(err.Error(), "missing protocol scheme"):
			reason = "it has no scheme: write smtp://host or smtps://host"
		case strings.Contains(err.Error(), "control character"):
			reason = "it holds a control character, such as a line break"
		}
		return nil, fail("", "cannot parse the URL: %s", reason)
	}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
	case "smtps":
		a.Security = smtpkit.SecurityImplicitTLS
		a.mark(fSecurity, Origin{File: "URL", Key: "scheme"})
	case "":
		return nil, fail("scheme", "the URL has no scheme: write smtp://host or smtps://host")
	default:
		return nil, fail("scheme", "the scheme %s is not smtp or smtps", showValue(u.Scheme))
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return nil, fail("path", "the URL has a path: write smtp://host:port?setting=value, with settings in the query")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fail("fragment", "the URL has a fragment (#...): a # in a password must be written %%23")
	}
	if err := a.apply(Origin{File: "URL", Key: "host"}, "host", value{kind: kString, s: u.Hostname()}); err != nil {
		return nil, &Error{Origin: Origin{File: "URL", Key: "host"}, Err: err}
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fail("port", "the port %s is not a number", showValue(p))
		}
		if err := a.apply(Origin{File: "URL", Key: "port"}, "port", value{kind: kInt, n: int64(n)}); err != nil {
			return nil, &Error{Origin: Origin{File: "URL", Key: "port"}, Err: err}
		}
	}
	if u.User != nil {
		if name := u.User.Username(); name != "" {
			if err := a.setText(Origin{File: "URL", Key: "user"}, "user", name); err != nil {
				return nil, err
			}
		}
		if pw, ok := u.User.Password(); ok && pw != "" {
			a.Password = SecretValue(pw)
			a.Password.at = Origin{File: "URL", Key: "password"}
			a.mark(fPassword, a.Password.at)
		}
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fail("query", "the query is malformed: write setting=value pairs joined by &, with %%-escapes such as %%20")
	}
	var errs errorList
	for key, values := range query {
		o := Origin{File: "URL", Key: key}
		switch {
		case key == "user" || key == "password":
			errs.add(o, "", "put the %s in the URL itself, as smtp://user:password@host (percent-encoded)", key)
		case len(values) > 1:
			errs.add(o, "", "the parameter is given %d times: give it once (lists are comma-separated)", len(values))
		case key == "security" && a.set.has(fSecurity):
			errs.add(o, "", "smtps:// already means implicit TLS: use smtp:// with security=..., or drop the parameter")
		default:
			if err := a.setText(o, key, values[0]); err != nil {
				errs.addErr(err)
			}
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return a, nil
}
