package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/config"
)

// commandLine is the origin of the settings that flags gave.
const commandLine = "command line"

// optionFlags names the flag that sets each field of smtpkit.Options, so
// that the library's hints and invalid settings speak in flags here.
var optionFlags = map[string]string{
	"Security":                     "--security",
	"ConnectTimeout":               "--connect-timeout",
	"GreetingTimeout":              "--greeting-timeout",
	"CommandTimeout":               "--command-timeout",
	"DataTimeout":                  "--data-timeout",
	"Timeout":                      "--timeout",
	"LocalName":                    "--ehlo",
	"LocalAddr":                    "--bind",
	"Proxy":                        "--proxy",
	"TLS.Versions":                 "--tls-versions",
	"TLS.StrictVersions":           "--tls-strict",
	"TLS.CAFile":                   "--ca-file",
	"TLS.CertFile":                 "--cert",
	"TLS.KeyFile":                  "--key",
	"TLS.Fingerprints":             "--fingerprint",
	"TLSConfig.ServerName":         "--tls-server-name",
	"TLSConfig.InsecureSkipVerify": "--insecure-skip-verify",
	"Auth.AllowCleartext":          "--allow-cleartext-auth",
	"Auth.Mechanisms":              "--auth",
	"Auth.Username":                "--user",
	"Auth.Password":                "--password-env",
	"Auth.Token":                   "--token-env",
}

// flagOf returns the flag of an Options field such as "TLS.Fingerprints[1]";
// a field without a flag is named as the library names it.
func flagOf(field string) string {
	name, _, _ := strings.Cut(field, "[")
	if f, ok := optionFlags[name]; ok {
		return f
	}
	return field
}

// flagHint words a hint of the library as a flag: "--security implicit-tls",
// "--allow-cleartext-auth".
func flagHint(h smtpkit.Hint) string {
	flag := flagOf(h.Field)
	switch v := h.Value.(type) {
	case nil:
		return "a larger " + flag
	case bool:
		if v {
			return flag
		}
		return flag + "=false"
	case time.Duration:
		return flag + " " + v.String()
	}
	return fmt.Sprintf("%s %v", flag, h.Value)
}

// describe words err for a person at a terminal: the library's errors with
// their hints and fields as flags, the rest as they are.
func describe(err error) string {
	var (
		e  *smtpkit.Error
		oe *smtpkit.OptionError
	)
	list, joined := err.(interface{ Unwrap() []error })
	switch {
	case err == nil:
		return ""
	case joined:
		var lines []string
		for _, x := range list.Unwrap() {
			lines = append(lines, describe(x))
		}
		return strings.Join(lines, "\n")
	case errors.As(err, &e) && e == err:
		return e.Describe(flagHint)
	case errors.As(err, &oe) && oe == err:
		return oe.Describe(flagOf, flagHint)
	}
	var ce *config.Error
	if errors.As(err, &ce) && ce == err && ce.File == commandLine && errors.As(err, &oe) {
		return oe.Describe(flagOf, flagHint) // a flag's value: word it as flags
	}
	switch w := err.(type) {
	case usageError:
		return describe(w.error)
	case configError:
		return describe(w.error)
	case messageError:
		return describe(w.error)
	case inputError:
		return describe(w.error)
	case sysexitsError:
		return describe(w.error)
	}
	return err.Error()
}
