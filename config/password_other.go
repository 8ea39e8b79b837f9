//go:build !unix

package config

import "os/exec"

// killGroupOnCancel leaves cmd as it is: outside Unix, cancelling kills the
// shell only, and Cmd.WaitDelay bounds the wait for its children.
func killGroupOnCancel(cmd *exec.Cmd) {}
