package smtpkit

import (
	"net"
	"syscall"
)

// quickAck asks the kernel to acknowledge at once what has arrived on
// nc's socket, rather than after the delayed-ACK time (40 ms or more on
// Linux), and does nothing when there is no socket to ask. A client that
// waits for more replies with nothing to send has no segment for the ACK
// to ride on; a server whose next replies wait on Nagle's algorithm for
// that ACK (Postfix does) would stall until the timer fires.
func quickAck(nc net.Conn) {
	sc := rawSocket(nc)
	if sc == nil {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
