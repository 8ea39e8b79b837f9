package sasl

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// serverBinding computes the channel binding from the server's own view of
// the connection, with xdg-go/scram's constructors rather than this
// package's code, so both ends are computed independently.
func serverBinding(t *testing.T, state tls.ConnectionState) scram.ChannelBinding {
	t.Helper()
	if state.Version >= tls.VersionTLS13 {
		cb, err := scram.NewTLSExporterBinding(&state)
		if err != nil {
			t.Fatal(err)
		}
		return cb
	}
	return scram.NewTLSUniqueBinding(state.TLSUnique)
}

var tlsVersions = []struct {
	name     string
	version  uint16
	cbHeader string // the GS2 header a -PLUS client sends
}{
	{"TLS 1.3", tls.VersionTLS13, "p=tls-exporter,,"},
	{"TLS 1.2", tls.VersionTLS12, "p=tls-unique,,"},
}

func TestSCRAMPlus(t *testing.T) {
	for _, v := range tlsVersions {
		for _, mech := range []string{SCRAMSHA1Plus, SCRAMSHA256Plus, SCRAMSHA512Plus} {
			t.Run(v.name+"/"+mech, func(t *testing.T) {
				clientState, serverState := tlsStates(t, v.version)
				server := newSCRAMServer(t, mech, "alice", "secret", "NaCl")
				c, err := NewSCRAMClient(mech, "alice", "secret", "", &clientState)
				if err != nil {
					t.Fatal(err)
				}
				if _, first, _ := c.Start(); !strings.HasPrefix(string(first), v.cbHeader) {
					t.Fatalf("client-first = %q, want GS2 header %q", first, v.cbHeader)
				}
				conv := server.NewConversationWithChannelBindingRequired(serverBinding(t, serverState))
				if err := exchange(c, &scramServer{conv: conv}); err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if err := finish(c); err != nil {
					t.Fatalf("Finish = %v", err)
				}
			})
		}
	}
}

// TestSCRAMPlusDetectsAnotherConnection plays a man in the middle: the
// client's TLS connection ends at the attacker, who relays the exchange
// over a second connection to the real server. The binding data differ, so
// the server refuses.
func TestSCRAMPlusDetectsAnotherConnection(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			clientState, _ := tlsStates(t, v.version)
			_, otherServerState := tlsStates(t, v.version)
			server := newSCRAMServer(t, SCRAMSHA256Plus, "alice", "secret", "NaCl")
			c, err := NewSCRAMClient(SCRAMSHA256Plus, "alice", "secret", "", &clientState)
			if err != nil {
				t.Fatal(err)
			}
			conv := server.NewConversationWithChannelBindingRequired(serverBinding(t, otherServerState))
			err = exchange(c, &scramServer{conv: conv})
			if err == nil || !strings.Contains(err.Error(), "channel-bindings-dont-match") {
				t.Fatalf("exchange error = %v, want the server to refuse the binding", err)
			}
		})
	}
}

// TestSCRAMOverTLSAdvertisesBinding checks the GS2 flag "y" (RFC 5802,
// section 6): a client over TLS using SCRAM without -PLUS says it could have
// bound the exchange, so a server that offered -PLUS sees the downgrade.
func TestSCRAMOverTLSAdvertisesBinding(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			clientState, serverState := tlsStates(t, v.version)
			newClient := func() *scramClient {
				c, err := NewSCRAMClient(SCRAMSHA256, "alice", "secret", "", &clientState)
				if err != nil {
					t.Fatal(err)
				}
				return c.(*scramClient)
			}
			if _, first, _ := newClient().Start(); !strings.HasPrefix(string(first), "y,,") {
				t.Fatalf("client-first = %q, want GS2 flag y", first)
			}
			server := newSCRAMServer(t, SCRAMSHA256, "alice", "secret", "NaCl")

			// A server that offers no -PLUS accepts it.
			if err := exchange(newClient(), &scramServer{conv: server.NewConversation()}); err != nil {
				t.Fatalf("exchange with a server without -PLUS: %v", err)
			}
			// A server that offered -PLUS refuses it as a downgrade.
			conv := server.NewConversationWithChannelBinding(serverBinding(t, serverState))
			err := exchange(newClient(), &scramServer{conv: conv})
			if err == nil || !strings.Contains(err.Error(), "server-does-support-channel-binding") {
				t.Fatalf("exchange error = %v, want the server to detect the downgrade", err)
			}
		})
	}
}
