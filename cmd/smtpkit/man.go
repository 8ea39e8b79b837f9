package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newManCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write the manual pages (smtpkit.1, smtpkit-probe.1, ...) into a directory",
		Long: `Write a manual page in section 1 for smtpkit and for each of its commands
into DIR, which is created when missing: smtpkit.1, smtpkit-probe.1,
smtpkit-check.1, smtpkit-send.1, smtpkit-sendmail.1, ... They hold what
--help says. Install them where man looks, such as
/usr/local/share/man/man1 or ~/.local/share/man/man1.

Shell completion comes from the completion command:
  smtpkit completion bash > /etc/bash_completion.d/smtpkit
  smtpkit completion zsh > "${fpath[1]}/_smtpkit"
  smtpkit completion fish > ~/.config/fish/completions/smtpkit.fish`,
		Example: `  smtpkit man ~/.local/share/man/man1 && man smtpkit-probe`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("man takes the directory to write the pages into")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return inputError{fmt.Errorf("man: %w", err)}
			}
			root := cmd.Root()
			header := &doc.GenManHeader{Title: "SMTPKIT", Section: "1", Source: "smtpkit", Manual: "smtpkit manual"}
			root.DisableAutoGenTag = true // pages that do not change from one run to the next
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			pages, _ := filepath.Glob(filepath.Join(dir, "smtpkit*.1"))
			slices.Sort(pages)
			for _, p := range pages {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return nil
		},
	}
}
