package main

import (
	"crypto/tls"
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

// keyFlags names the flag that sets each key of config.Account, so that a
// problem with a setting the command line gave speaks in flags.
var keyFlags = map[string]string{
	"host": "--server", "port": "--port", "security": "--security", "from": "--from",
	"connect_timeout": "--connect-timeout", "greeting_timeout": "--greeting-timeout",
	"command_timeout": "--command-timeout", "data_timeout": "--data-timeout", "timeout": "--timeout",
	"ehlo_name": "--ehlo", "tls_ca_file": "--ca-file", "tls_versions": "--tls-versions",
	"tls_fingerprints": "--fingerprint", "tls_server_name": "--tls-server-name", "proxy": "--proxy",
	"local_address": "--bind", "tls_strict_versions": "--tls-strict", "tls_cert_file": "--cert",
	"tls_key_file": "--key", "tls_insecure_skip_verify": "--insecure-skip-verify",
	"user": "--user", "password": "--password-stdin", "password_env": "--password-env",
	"token_env": "--token-env", "auth_mechanisms": "--auth", "allow_cleartext_auth": "--allow-cleartext-auth",
	"queue_on_failure": "--queue",
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

// certificateHints words what gets past a certificate that did not
// verify: the CA's file, or a pin of the certificate once it is known to be
// the server's; "" for other errors.
func certificateHints(e *smtpkit.Error) string {
	var cve *tls.CertificateVerificationError
	if !errors.As(e, &cve) || len(cve.UnverifiedCertificates) == 0 {
		return ""
	}
	return fmt.Sprintf(" (try --ca-file with the certificate of the CA that issued it, or, once you have "+
		"checked out of band that it is the server's, --fingerprint %s)", certFingerprint(cve.UnverifiedCertificates[0]))
}

// describeOption words an invalid setting with its flag; the program's
// name, which the library's wording starts with, is printed once already.
func describeOption(oe *smtpkit.OptionError) string {
	return strings.TrimPrefix(oe.Describe(flagOf, flagHint), "smtpkit: ")
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
		return e.Describe(flagHint) + certificateHints(e)
	case errors.As(err, &oe) && oe == err:
		return describeOption(oe)
	}
	var ce *config.Error
	if errors.As(err, &ce) && ce == err && ce.File == commandLine {
		if errors.As(err, &oe) {
			return describeOption(oe) // a flag's value: word it as flags
		}
		if flag, ok := keyFlags[ce.Key]; ok {
			return flag + ": " + describe(ce.Err)
		}
		return describe(ce.Err)
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
	case queueError:
		return describe(w.error)
	case tryLaterError:
		return describe(w.error)
	case failedForGoodError:
		return describe(w.error)
	}
	return err.Error()
}
