package smtptest_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/smtptest"
)

func TestBlackholeConnectTimesOut(t *testing.T) {
	bh, err := smtptest.NewBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer bh.Close()

	for i := range 2 { // it stays a blackhole after the first attempt
		conn, err := net.DialTimeout("tcp", bh.Addr, 300*time.Millisecond)
		if err == nil {
			conn.Close()
			t.Fatalf("attempt %d: connected to the blackhole", i)
		}
		var netErr net.Error
		if !errors.As(err, &netErr) || !netErr.Timeout() {
			t.Fatalf("attempt %d: error = %v, want a timeout", i, err)
		}
	}
	bh.Close()
	bh.Close() // a second Close is harmless
}
