//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package smtpkit

import (
	"errors"
	"net"
	"syscall"
)

// socketPending reports, without blocking or consuming anything, whether
// the socket under nc has bytes to read or was closed by the peer; known is
// false when there is no socket to ask.
func socketPending(nc net.Conn) (pending, known bool) {
	sc := rawSocket(nc)
	if sc == nil {
		return false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK):
			pending = false
		case rerr != nil, n >= 0: // data, the peer's close (0 bytes), or an error: not idle
			pending = true
		}
		return true // never wait
	})
	if err != nil {
		return true, true // the socket is closed or broken
	}
	return pending, true
}
