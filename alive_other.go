//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package smtpkit

import "net"

// socketPending cannot look at the socket here: known is false.
func socketPending(net.Conn) (pending, known bool) { return false, false }
