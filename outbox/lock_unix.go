//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package outbox

import (
	"errors"
	"os"
	"syscall"
)

// locking says whether this system has the locks a Spool needs.
const locking = true

// lockDir opens the directory at path and takes an exclusive flock on it
// without waiting: errLocked when another holds it. The kernel drops the
// lock when the file is closed or its process dies, however it dies.
func lockDir(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	var lockErr error
	if err := raw.Control(func(fd uintptr) {
		for {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(lockErr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		lockErr = err
	}
	if lockErr != nil {
		f.Close()
		if errors.Is(lockErr, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, &os.PathError{Op: "flock", Path: path, Err: lockErr}
	}
	return f, nil
}

// syncDir makes the names created, renamed and removed in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fsAdvice says what to do about a failure of the spool's file system, or
// "" when err is none of the usual ones.
func fsAdvice(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return ""
	}
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT:
		return "the spool's file system is full: free some space or move the spool"
	case syscall.EROFS:
		return "the spool is on a read-only file system: mount it read-write or choose another spool directory"
	case syscall.EACCES, syscall.EPERM:
		return "no permission to write in the spool: check the owner and mode of its directory"
	}
	return ""
}
