//go:build !unix

package main

import (
	"errors"
	"time"
)

// processCPU is not measured on this system.
func processCPU() (time.Duration, error) {
	return 0, errors.New("CPU time is measured on Unix systems only")
}
