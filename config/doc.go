// Package config reads SMTP accounts for smtpkit from configuration files,
// URLs and the environment, and turns them into smtpkit.Options.
//
// An Account is one named set of settings: the server (Host, Port), the
// envelope sender (From), the security mode, time limits, the TLS policy,
// the proxy and local address, how to log in, and whether a front end
// queues mail the server cannot take now (QueueOnFailure). Its password
// and token are Secrets: the value itself, an environment variable, or a
// command run with `sh -c` whose first line of output is the secret
// (msmtp's passwordeval). Nothing is read or run while loading: Account.Options (or
// Secret.Resolve) does it when the password is needed, bounded by a context
// that kills the command and its children. Printing an Account or a Secret
// with any fmt verb, or logging it with log/slog, never shows a password,
// a token, a password command or a proxy's password, and no error repeats
// a password or a password command.
//
// # Formats
//
//   - smtpkit's own TOML format, with [defaults], [accounts.NAME] and
//     inheritance: LoadTOML, ParseTOML (which documents the keys).
//   - msmtp's configuration file, with msmtp's semantics: LoadMsmtprc,
//     ParseMsmtprc, DefaultMsmtprcPath.
//   - the mailSettings of a .NET App.config or web.config: LoadDotNetConfig,
//     ParseDotNetConfig.
//   - a URL, such as smtps://user:pass@smtp.example.com: ParseURL.
//   - environment variables, such as SMTPKIT_HOST: FromEnvironment.
//
// Load chooses among the file formats by the file name. Errors are *Error
// values that name the file, the line, the account and the key, and say
// what to do; settings that are accepted but have no effect (msmtp's
// logfile, say) are listed in File.Warnings rather than refused, and so is
// a password in a file others may read.
//
// # Precedence
//
// Settings come in layers, and a higher layer wins: command-line flags over
// the environment over the file.
//
//	file, err := config.Load(path)         // the lowest layer
//	acct, err := file.Account(name)        // "" for the file's default
//	env, err := config.FromEnvironment()   // SMTPKIT_HOST, SMTPKIT_PORT, ...
//	flags := &config.Account{DefinedAt: config.Origin{File: "command line"}}
//	err = flags.Set("port", "2525")        // for each flag given
//	final := config.Merge(acct, env, flags)
//	opts, err := final.Options(ctx)        // resolves the password
//	c, err := smtpkit.Dial(ctx, final.Addr(), opts)
//
// Loaders, Set, FromEnvironment and ParseURL mark the settings they set, and
// Merge takes a field from a higher layer only when that layer marked it or
// holds a non-zero value in it, so what a layer leaves unset never erases
// what a lower one set, and a flag can still set a zero value (such as
// tls_insecure_skip_verify=false over a file's true) through Set.
// Account.Origin tells which layer, line and key a setting came from.
//
// The environment variables are SMTPKIT_ followed by a TOML key in upper
// case: SMTPKIT_HOST, SMTPKIT_PORT, SMTPKIT_USER, SMTPKIT_PASSWORD,
// SMTPKIT_PASSWORD_COMMAND, SMTPKIT_SECURITY, SMTPKIT_FROM, SMTPKIT_TIMEOUT,
// SMTPKIT_TLS_VERSIONS ("1.2,1.3"), SMTPKIT_PROXY and so on, lists
// comma-separated; SMTPKIT_URL holds a whole account as a URL, under the
// others. Empty variables count as unset, and two variables for the same
// setting (SMTPKIT_PASSWORD and SMTPKIT_PASSWORD_ENV) are an error.
package config
