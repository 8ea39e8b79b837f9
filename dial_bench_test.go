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
		// The real port is a random one, where Auto follows no convention;
		// the standard one is reached through portDialer.
		ports := []string{"real-port", map[smtptest.Security]string{
			smtptest.Plain: "port-25", smtptest.StartTLS: "port-587", smtptest.ImplicitTLS: "port-465",
		}[kind]}
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
					if port != "real-port" {
						addr = "127.0.0.1:" + port[len("port-"):]
						opts.Dialer = portDialer{real: srv.Addr}
					}
					ctx := context.Background()
					for b.Loop() {
						if v.cold {
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
