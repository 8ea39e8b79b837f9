//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package outbox

import (
	"errors"
	"os"
)

// locking says whether this system has the locks a Spool needs.
const locking = false

// lockDir fails: without flock a spool cannot keep two runners off one entry.
func lockDir(path string) (*os.File, error) {
	return nil, errors.New("outbox: the spool needs flock, which this system lacks")
}

// syncDir syncs dir where the system allows it.
func syncDir(dir string) error {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fsAdvice says what to do about a failure of the spool's file system.
func fsAdvice(err error) string {
	if errors.Is(err, os.ErrPermission) {
		return "no permission to write in the spool: check the owner and mode of its directory"
	}
	return ""
}
