//go:build !linux

package smtpkit

import "net"

// quickAck does nothing here: only Linux lets a socket ask for an
// immediate ACK.
func quickAck(net.Conn) {}
