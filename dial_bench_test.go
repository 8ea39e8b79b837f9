package smtpkit_test

import (
	"context"
	"testing"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// BenchmarkDial measures a whole Dial (connect, TLS, greeting, EHLO) against
// each server kind: in the right mode, in Auto probing afresh each time
// ("auto-cold"), and in Auto with the mode remembered ("auto-warm").
// Compare auto-cold with right-mode for the cost of detection.
func BenchmarkDial(b *testing.B) {
	right := map[smtptest.Security]smtpkit.Security{
		smtptest.Plain:       smtpkit.SecurityNone,
		smtptest.StartTLS:    smtpkit.SecurityStartTLS,
		smtptest.ImplicitTLS: smtpkit.SecurityImplicitTLS,
	}
	type variant struct {
		name string
		mode smtpkit.Security
		cold bool
	}
	for _, kind := range []smtptest.Security{smtptest.Plain, smtptest.StartTLS, smtptest.ImplicitTLS} {
		srv := smtptest.NewServer(kind)
		ports := []string{"real-port"}
		if kind == smtptest.ImplicitTLS {
			ports = append(ports, "port-465")
		}
		for _, port := range ports {
			for _, v := range []variant{
				{"right-mode", right[kind], false},
				{"auto-cold", smtpkit.SecurityAuto, true},
				{"auto-warm", smtpkit.SecurityAuto, false},
				{"tls-auto-cold", smtpkit.SecurityTLSAuto, true},
			} {
				if kind == smtptest.Plain && v.mode == smtpkit.SecurityTLSAuto {
					continue // fails by design
				}
				b.Run(kind.String()+"/"+port+"/"+v.name, func(b *testing.B) {
					addr := srv.Addr
					opts := &smtpkit.Options{Security: v.mode, TLSConfig: smtptest.ClientTLSConfig()}
					if port == "port-465" {
						addr = "127.0.0.1:465"
						opts.Dialer = portDialer{real: srv.Addr}
					}
					ctx := context.Background()
					smtpkit.ForgetModes()
					for b.Loop() {
						if v.cold {
							smtpkit.ForgetModes()
						}
						c, err := smtpkit.Dial(ctx, addr, opts)
						if err != nil {
							b.Fatal(err)
						}
						c.Close()
					}
				})
			}
		}
		srv.Close()
	}
}
