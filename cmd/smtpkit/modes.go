package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpkit/smtpkit"
)

// modesFlags are the settings of the modes command.
type modesFlags struct {
	conn connFlags
	json bool
}

func newModesCommand() *cobra.Command {
	var f modesFlags
	cmd := &cobra.Command{
		Use:   "modes [list | forget [flags] HOST[:PORT]]",
		Short: "Show or forget the security modes found for servers",
		Long: `With --security auto or tls-auto (the default), smtpkit finds out whether a
server speaks implicit TLS, STARTTLS or, for auto only, plaintext, and
remembers what it found for the network path (the server, the proxy, the
local address, the TLS server name) in a file: ` + "`$SMTPKIT_MODES_FILE`" + `, else
$XDG_STATE_HOME/smtpkit/modes.json (~/.local/state/smtpkit/modes.json).

Two reasons: a later run does not probe again, and a TLS mode found once
stays required, as HSTS does in browsers, so someone on the path who later
strips STARTTLS from the server's reply meets an error, not a plaintext
session. An entry expires 30 days after it was last confirmed.

  modes list                    every entry: the path, the mode, when confirmed
  modes forget HOST[:PORT]      forget the entry of that server, reached with
                                the same flags (--proxy, --bind, --tls-server-name),
                                so the next run probes it again`,
		Example: `  smtpkit modes list
  smtpkit modes forget mail.example.com:587
  smtpkit modes forget --proxy socks5h://proxy.example:1080 mail.example.com:587`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0, len(args) == 1 && args[0] == "list",
				len(args) == 2 && args[0] == "forget":
				return nil
			}
			return usageError{errors.New("want: modes list, or modes forget HOST[:PORT]")}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				return runForget(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, args[1])
			}
			return runModesList(cmd.OutOrStdout(), &f)
		},
	}
	f.conn.register(cmd.Flags())
	cmd.Flags().BoolVar(&f.json, "json", false, "print the entries as one JSON object")
	return cmd
}

// modeJSON is one entry of modes list --json.
type modeJSON struct {
	Path      string    `json:"path"`
	Mode      string    `json:"mode"`
	Confirmed time.Time `json:"confirmed"`
}

func runModesList(out io.Writer, f *modesFlags) error {
	cache := smtpkit.NewFileModeCache(modesFile())
	entries := cache.Keys()
	if f.json {
		list := []modeJSON{}
		for _, e := range entries {
			list = append(list, modeJSON{Path: e.Key, Mode: e.Mode.String(), Confirmed: e.Confirmed.UTC()})
		}
		return writeJSON(out, map[string]any{"file": cache.Path, "modes": list})
	}
	if len(entries) == 0 {
		fmt.Fprintf(out, "No modes remembered (%s)\n", cache.Path)
		return nil
	}
	fmt.Fprintf(out, "Modes remembered in %s:\n", cache.Path)
	for _, e := range entries {
		fmt.Fprintf(out, "  %-13s %s  (confirmed %s)\n", e.Mode, e.Key, e.Confirmed.Local().Format(time.DateTime))
	}
	return nil
}

func runForget(ctx context.Context, out, errOut io.Writer, f *modesFlags, host string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	src, err := f.conn.sources(host)
	if err != nil {
		return err
	}
	s, err := f.conn.session(ctx, src, loginNever, out, errOut)
	if err != nil {
		return err
	}
	d := s.dialer()
	key, err := d.ModeKey(s.addr())
	if err != nil {
		return err
	}
	_, known := s.modes.Get(key)
	if err := d.Forget(s.addr()); err != nil {
		return err
	}
	if known {
		fmt.Fprintf(out, "Forgot the mode of %s\n", key)
	} else {
		fmt.Fprintf(out, "Nothing was remembered for %s\n", key)
	}
	return nil
}
