package interop_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

// BenchmarkReconnect measures a reconnect to Postfix over implicit TLS,
// with and without TLS session resumption, in TLS 1.3 and 1.2: the
// handshake time (tls-ms/op, from the TLSDone event), the process CPU per
// connection (cpu-ms/op), and the share of handshakes that resumed.
//
//	go test -run '^$' -bench Reconnect -benchtime 200x ./interop/
func BenchmarkReconnect(b *testing.B) {
	p, err := loadPeers()
	if err != nil {
		b.Skipf("interop peers not running: %v", err)
	}
	addr, ca := p.env[keySMTPS], p.env["PEERS_CA_PEM"]
	pem, err := os.ReadFile(ca)
	if addr == "" || err != nil {
		b.Skipf("interop peers not running: %s, %v", addr, err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		for _, resume := range []bool{true, false} {
			name := fmt.Sprintf("%s/resumption=%v", tls.VersionName(v), resume)
			b.Run(name, func(b *testing.B) {
				var tlsTime time.Duration
				var handshakes, resumed int
				d := &smtpkit.Dialer{Options: smtpkit.Options{
					Security:  smtpkit.SecurityImplicitTLS,
					TLSConfig: &tls.Config{RootCAs: roots, ServerName: p.env["PEERS_SMTP_TLS_SERVERNAME"]},
					TLS:       smtpkit.TLSOptions{Versions: []uint16{v}, NoSessionResumption: !resume},
					Trace: func(e smtpkit.Event) {
						if e, ok := e.(smtpkit.TLSDone); ok && e.Err == nil {
							tlsTime += e.Elapsed
							handshakes++
							if e.State.DidResume {
								resumed++
							}
						}
					},
				}}
				ctx := b.Context()
				dial := func() {
					c, err := d.Dial(ctx, addr)
					if err != nil {
						b.Fatal(err)
					}
					c.Close()
				}
				dial() // a session to resume
				tlsTime, handshakes, resumed = 0, 0, 0
				cpu0 := cpuTime()
				b.ResetTimer()
				for b.Loop() {
					dial()
				}
				b.StopTimer()
				n := float64(handshakes)
				b.ReportMetric(float64(tlsTime.Microseconds())/1000/n, "tls-ms/op")
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/n, "cpu-ms/op")
				b.ReportMetric(float64(resumed)/n, "resumed/op")
			})
		}
	}
}

// cpuTime returns the CPU the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
