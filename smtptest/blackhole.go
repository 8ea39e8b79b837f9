package smtptest

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Blackhole is an address on 127.0.0.1 where a TCP connection attempt never
// completes, for testing connect timeouts without leaving the machine.
//
// It is a listening socket that never accepts, whose accept queue has been
// filled on purpose: the kernel then drops further connection requests, so
// a client keeps waiting for an answer until its own timeout.
type Blackhole struct {
	// Addr is the "127.0.0.1:port" address that never answers.
	Addr string

	closeListener func() error
	fillers       []net.Conn // connections that fill the accept queue
	closeOnce     sync.Once
}

// Limits of the loop that fills the accept queue.
const (
	blackholeMaxFillers = 16
	blackholeProbeWait  = 200 * time.Millisecond
)

// NewBlackhole makes a Blackhole, or says why this system cannot have one.
// The caller must call Close when finished.
func NewBlackhole() (*Blackhole, error) {
	addr, closeListener, err := listenNoBacklog()
	if err != nil {
		return nil, fmt.Errorf("smtptest: blackhole: %w", err)
	}
	b := &Blackhole{Addr: addr, closeListener: closeListener}

	// Connect until an attempt hangs: from then on the queue is full and
	// every new attempt hangs the same way.
	for range blackholeMaxFillers {
		conn, err := net.DialTimeout("tcp", addr, blackholeProbeWait)
		if err == nil {
			b.fillers = append(b.fillers, conn)
			continue
		}
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return b, nil
		}
		b.Close()
		return nil, fmt.Errorf("smtptest: blackhole: filling the accept queue of %s: %w", addr, err)
	}
	b.Close()
	return nil, fmt.Errorf("smtptest: blackhole: %d connections to %s completed although it never accepts; this system does not drop connection attempts when the accept queue is full", blackholeMaxFillers, addr)
}

// Close closes the listening socket and the connections that filled it.
// It is safe to call more than once.
func (b *Blackhole) Close() {
	b.closeOnce.Do(func() {
		for _, c := range b.fillers {
			c.Close()
		}
		b.closeListener()
	})
}
