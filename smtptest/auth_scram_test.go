package smtptest_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

var scramMechanisms = []string{
	sasl.SCRAMSHA1, sasl.SCRAMSHA1Plus,
	sasl.SCRAMSHA256, sasl.SCRAMSHA256Plus,
	sasl.SCRAMSHA512, sasl.SCRAMSHA512Plus,
}

func TestAuthSCRAM(t *testing.T) {
	for _, sec := range []smtptest.Security{smtptest.StartTLS, smtptest.ImplicitTLS} {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			srv := newAuthServer(t, sec, scramMechanisms...)
			cfg := smtptest.ClientTLSConfig()
			cfg.MaxVersion = version
			for _, mech := range scramMechanisms {
				t.Run(sec.String()+"/"+tls.VersionName(version)+"/"+mech, func(t *testing.T) {
					// The server offers -PLUS, so a client without -PLUS
					// must not claim it could bind (GS2 flag y): it gets
					// no TLS state.
					plus := strings.HasSuffix(mech, "-PLUS")
					stateFor := func(c *smtp.Client) *tls.ConnectionState {
						state := tlsState(t, c)
						if state.Version != version {
							t.Fatalf("TLS version %s, want %s", tls.VersionName(state.Version), tls.VersionName(version))
						}
						if !plus {
							return nil
						}
						return state
					}

					c := dialTLS(t, srv, cfg)
					authenticate(t, c, must(sasl.NewSCRAMClient(mech, "alice", "secret", "", stateFor(c))))
					sendAndCheck(t, srv, c, "alice", mech)

					c = dialTLS(t, srv, cfg)
					wantCode(t, c.Auth(must(sasl.NewSCRAMClient(mech, "alice", "wrong", "", stateFor(c)))), 535)
					c = dialTLS(t, srv, cfg)
					wantCode(t, c.Auth(must(sasl.NewSCRAMClient(mech, "bob", "secret", "", stateFor(c)))), 535)
				})
			}
		}
	}
}

// TestAuthSCRAMPlusChecksTheBinding gives the client the TLS state of
// another connection, as a man in the middle relaying the exchange would
// have it: the server refuses.
func TestAuthSCRAMPlusChecksTheBinding(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			srv := newAuthServer(t, smtptest.StartTLS, sasl.SCRAMSHA256Plus)
			cfg := smtptest.ClientTLSConfig()
			cfg.MaxVersion = version
			other := tlsState(t, dialTLS(t, srv, cfg))
			c := dialTLS(t, srv, cfg)
			tlsState(t, c)
			wantCode(t, c.Auth(must(sasl.NewSCRAMClient(sasl.SCRAMSHA256Plus, "alice", "secret", "", other))), 535)

			// The same client with its own connection's state succeeds.
			authenticate(t, c, must(sasl.NewSCRAMClient(sasl.SCRAMSHA256Plus, "alice", "secret", "", tlsState(t, c))))
		})
	}
}

// TestAuthSCRAMDowngradeDetected plays a man in the middle who removed
// SCRAM-SHA-256-PLUS from the list: the client, over TLS and seeing no
// -PLUS, uses the GS2 flag y, and the server, which did offer -PLUS,
// refuses.
func TestAuthSCRAMDowngradeDetected(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, sasl.SCRAMSHA256, sasl.SCRAMSHA256Plus)
	c := dial(t, srv)
	wantCode(t, c.Auth(must(sasl.NewSCRAMClient(sasl.SCRAMSHA256, "alice", "secret", "", tlsState(t, c)))), 535)

	// A server that offers no -PLUS accepts the same client.
	srv = newAuthServer(t, smtptest.StartTLS, sasl.SCRAMSHA256)
	c = dial(t, srv)
	authenticate(t, c, must(sasl.NewSCRAMClient(sasl.SCRAMSHA256, "alice", "secret", "", tlsState(t, c))))
	sendAndCheck(t, srv, c, "alice", sasl.SCRAMSHA256)
}

func TestAuthSCRAMAuthzID(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, sasl.SCRAMSHA256)
	wantCode(t, dial(t, srv).Auth(must(sasl.NewSCRAMClient(sasl.SCRAMSHA256, "alice", "secret", "root", nil))), 535)
	c := dial(t, srv)
	authenticate(t, c, must(sasl.NewSCRAMClient(sasl.SCRAMSHA256, "alice", "secret", "alice", nil)))
	sendAndCheck(t, srv, c, "alice", sasl.SCRAMSHA256)
}
