//go:build !unix

package smtptest

import (
	"fmt"
	"runtime"
)

// listenNoBacklog reports that blackholes are only made on Unix systems.
func listenNoBacklog() (addr string, closeFn func() error, err error) {
	return "", nil, fmt.Errorf("not supported on %s", runtime.GOOS)
}
