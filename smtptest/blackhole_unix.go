//go:build unix

package smtptest

import (
	"fmt"
	"syscall"
)

// listenNoBacklog opens a TCP socket listening on a random port of
// 127.0.0.1 with the smallest accept queue the system allows, and returns
// its address and a function that closes it.
//
// It uses syscall directly because the net package always asks for a long
// queue.
func listenNoBacklog() (addr string, closeFn func() error, err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_TCP)
	if err != nil {
		return "", nil, fmt.Errorf("creating a TCP socket: %w", err)
	}
	syscall.CloseOnExec(fd)
	closeFn = func() error { return syscall.Close(fd) }

	loopback := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Bind(fd, loopback); err != nil {
		closeFn()
		return "", nil, fmt.Errorf("binding 127.0.0.1:0: %w", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		closeFn()
		return "", nil, fmt.Errorf("listening with backlog 0: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		closeFn()
		return "", nil, fmt.Errorf("reading the socket's address: %w", err)
	}
	inet4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		closeFn()
		return "", nil, fmt.Errorf("socket has unexpected address type %T", sa)
	}
	return fmt.Sprintf("127.0.0.1:%d", inet4.Port), closeFn, nil
}
