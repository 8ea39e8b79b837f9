package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/config"
)

// settingsHelp explains where the connection settings come from; it ends
// the help of every command that reaches a server.
const settingsHelp = `Settings: flags > environment > file. Each setting is taken from the
highest layer that sets it; a flag that is not given never overrides the
file, and its default applies only when no layer sets it. The layers:
  file         an account of a configuration file: smtpkit's TOML (*.toml),
               a .NET App.config or web.config (*.config, *.xml), or msmtp's
               file (any other name). The file is --config FILE, else
               $SMTPKIT_CONFIG, else ~/.config/smtpkit/config.toml, else
               ~/.msmtprc or ~/.config/msmtp/config, the first that exists.
               The account is --account NAME, else the file's default
               (msmtp's "account default", TOML's default_account, the
               account called "default", or the only one). An account is
               read when --account or --config is given, or when the
               command line names no server: "probe HOST" reads no file.
  environment  SMTPKIT_HOST, SMTPKIT_PORT, SMTPKIT_USER, SMTPKIT_PASSWORD,
               SMTPKIT_PASSWORD_COMMAND, SMTPKIT_SECURITY, SMTPKIT_FROM, ...
               (SMTPKIT_ and a TOML key in upper case), and SMTPKIT_URL for a
               whole account under them.
  flags        --url smtp[s]://user:pass@host:port?key=value first, then
               HOST[:PORT] (or --server, --port) and every other flag.
Passwords do not belong on the command line, where other users of the
machine can read them: use the file (password_command), an environment
variable (--password-env, default $SMTPKIT_PASSWORD), standard input
(--password-stdin) or, for OAuth 2, --token-env. (A password in --url works,
with a warning; $SMTPKIT_URL keeps it out of sight.)`

// errNoServer says that no layer names a server.
var errNoServer = errors.New("no server: give HOST[:PORT], --server or --url, or an account " +
	"(--account, --config, $SMTPKIT_CONFIG, ~/.msmtprc), or set SMTPKIT_HOST")

// sources says where a command's settings come from.
type sources struct {
	account      string // --account
	accountGiven bool
	configFile   string // --config
	configGiven  bool
	url          string // --url
	server       string // HOST[:PORT], from the argument or --server
	sets         []setting
	noFiles      bool // --demo: neither files nor the environment
}

// setting is one command-line setting: the flag that gave it and its key
// and value as config.Account.Set takes them.
type setting struct{ flag, key, value string }

// defaults are the defaults for what no layer sets.
type defaults struct {
	security       smtpkit.Security
	commandTimeout time.Duration
}

// commandDefaults are the defaults of every command: the library's, so that
// probe, check, send and sendmail reach a server the same way.
var commandDefaults = defaults{security: smtpkit.SecurityTLSAuto, commandTimeout: smtpkit.DefaultCommandTimeout}

// flagSet reports whether a flag of the command line set the key.
func (s *sources) flagSet(key string) bool {
	for _, st := range s.sets {
		if st.key == key {
			return true
		}
	}
	return false
}

// names reports whether the command line names a server.
func (s *sources) names() bool { return s.server != "" || s.url != "" }

// resolve merges the layers into one account, and returns it with the file
// it came from (nil when none was read).
func (s *sources) resolve(d defaults) (*config.Account, *config.File, error) {
	var fileAcct, envAcct *config.Account
	var file *config.File
	if !s.noFiles {
		var err error
		if file, fileAcct, err = s.fileAccount(); err != nil {
			return nil, nil, err
		}
		if envAcct, err = config.FromEnvironment(); err != nil {
			return nil, nil, configError{err}
		}
	}
	flags, err := s.flagAccount()
	if err != nil {
		return nil, nil, err
	}
	acct := config.Merge(fileAcct, envAcct, flags)
	if !acct.IsSet("security") {
		acct.Security = d.security
	}
	if acct.CommandTimeout == 0 {
		acct.CommandTimeout = d.commandTimeout
	}
	if acct.Host == "" {
		return nil, nil, usageError{errNoServer}
	}
	return acct, file, nil
}

// fileAccount loads the configuration file and picks the account, when
// the sources call for one.
func (s *sources) fileAccount() (*config.File, *config.Account, error) {
	if !s.accountGiven && !s.configGiven && s.names() {
		return nil, nil, nil
	}
	path := s.configFile
	if !s.configGiven {
		path = defaultConfigPath()
	}
	if path == "" {
		if s.accountGiven {
			return nil, nil, usageError{fmt.Errorf("--account %s: there is no configuration file: "+
				"give --config FILE or set $SMTPKIT_CONFIG", s.account)}
		}
		return nil, nil, nil
	}
	file, err := config.Load(path)
	if err != nil {
		return nil, nil, configError{err}
	}
	acct, err := file.Account(s.account)
	if err != nil {
		return nil, nil, configError{err}
	}
	// Warn about what this run uses: the account chosen and the file as a
	// whole, not the accounts left aside (cron mails whatever is printed).
	file.Warnings = slices.DeleteFunc(file.Warnings, func(w config.Warning) bool {
		return w.Account != "" && w.Account != acct.Name
	})
	return file, acct, nil
}

// flagAccount is the command line's layer: --url, then the other flags.
func (s *sources) flagAccount() (*config.Account, error) {
	var layers []*config.Account
	if s.url != "" {
		u, err := config.ParseURL(s.url)
		if err != nil {
			return nil, usageError{fmt.Errorf("--url: %w", err)}
		}
		layers = append(layers, u)
	}
	flags := &config.Account{DefinedAt: config.Origin{File: commandLine}}
	sets := s.sets
	if s.server != "" {
		host, port := splitServer(s.server)
		sets = append([]setting{{"HOST", "host", host}}, sets...)
		if port != "" {
			sets = append([]setting{{"HOST:PORT", "port", port}}, sets...)
		}
	}
	for _, st := range sets {
		if err := flags.Set(st.key, st.value); err != nil {
			var ce *config.Error
			if errors.As(err, &ce) {
				err = ce.Err
			}
			name := st.flag
			if !strings.HasPrefix(name, "-") && name != "HOST" && name != "HOST:PORT" {
				name = "--" + name
			}
			return nil, usageError{fmt.Errorf("%s: %w", name, err)}
		}
	}
	return config.Merge(append(layers, flags)...), nil
}

// splitServer splits HOST[:PORT]; the port is "" when absent.
func splitServer(s string) (host, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ""
}

// defaultConfigPath returns the configuration file used when --config is
// not given: $SMTPKIT_CONFIG, else the first that exists of smtpkit's TOML
// file and msmtp's file, else "".
func defaultConfigPath() string {
	if p := os.Getenv("SMTPKIT_CONFIG"); p != "" {
		return p
	}
	if dir, err := os.UserConfigDir(); err == nil {
		if p := filepath.Join(dir, "smtpkit", "config.toml"); exists(p) {
			return p
		}
	}
	if p := config.DefaultMsmtprcPath(); p != "" && exists(p) {
		return p
	}
	return ""
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// printWarnings prints what the file says has no effect.
func printWarnings(w io.Writer, file *config.File) {
	if file == nil {
		return
	}
	for _, warn := range file.Warnings {
		fmt.Fprintf(w, "smtpkit: warning: %s\n", warn)
	}
}
