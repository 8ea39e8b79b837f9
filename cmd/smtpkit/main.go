// Command smtpkit connects to SMTP servers and reports what it finds.
//
//	smtpkit probe mail.example.com:587     # security mode, TLS, capabilities, timings
//	smtpkit probe --demo                   # the same against an embedded local server
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "smtpkit:", err)
		os.Exit(exitCode(err))
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "smtpkit",
		Short:         "Reach SMTP servers in every security mode and see what they offer",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newProbeCommand(), newCheckCommand())
	return root
}
