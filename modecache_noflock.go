//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package smtpkit

import "os"

// modeFileLocking says whether writers of a FileModeCache lock the file.
const modeFileLocking = false

// lockModeFile does nothing where flock is not available: writers of the
// mode cache file go without a lock, and the last one wins.
func lockModeFile(path string) (unlock func(), err error) {
	return func() {}, nil
}

// syncDir syncs dir where the system allows it; some, such as Windows,
// cannot sync a directory, and a rename there is left to the system.
func syncDir(dir string) error {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
