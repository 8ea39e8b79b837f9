//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package smtpkit

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// modeFileLocking says whether writers of a FileModeCache lock the file.
const modeFileLocking = true

// lockModeFile takes an exclusive advisory lock on the file at path,
// creating it when missing, and returns what releases it. It waits for
// another holder up to modeLockWait.
func lockModeFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	deadline := time.Now().Add(modeLockWait)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var lockErr error
		if err := raw.Control(func(fd uintptr) {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
		}); err != nil {
			lockErr = err
		}
		switch {
		case lockErr == nil:
			// Closing the file releases the lock.
			return func() { f.Close() }, nil
		case !errors.Is(lockErr, syscall.EWOULDBLOCK) && !errors.Is(lockErr, syscall.EINTR):
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, lockErr)
		case time.Now().After(deadline):
			f.Close()
			return nil, fmt.Errorf("%s is held by another process for more than %v", path, modeLockWait)
		}
		time.Sleep(wait)
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
