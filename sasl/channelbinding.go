package sasl

import (
	"crypto/tls"
	"fmt"

	"github.com/xdg-go/scram"
)

// channelBinding returns the data that binds a SCRAM exchange to the TLS
// connection it runs over: tls-exporter (RFC 9266) for TLS 1.3, and
// tls-unique (RFC 5929) for TLS 1.2 and below, which have no exporter that
// is safe in every case.
func channelBinding(state *tls.ConnectionState) (scram.ChannelBinding, error) {
	if state == nil {
		return scram.ChannelBinding{}, fmt.Errorf("%w: there is no TLS connection state: authenticate over TLS and pass its ConnectionState", ErrNoChannelBinding)
	}
	if !state.HandshakeComplete {
		return scram.ChannelBinding{}, fmt.Errorf("%w: the TLS handshake has not completed: pass the ConnectionState of an established connection", ErrNoChannelBinding)
	}
	if state.Version >= tls.VersionTLS13 {
		cb, err := scram.NewTLSExporterBinding(state)
		if err != nil {
			return scram.ChannelBinding{}, fmt.Errorf("%w: exporting tls-exporter keying material: %v", ErrNoChannelBinding, err)
		}
		return cb, nil
	}
	if len(state.TLSUnique) == 0 {
		return scram.ChannelBinding{}, fmt.Errorf("%w: the %s connection has no tls-unique value (a resumed session without extended master secret): use a new TLS connection", ErrNoChannelBinding, tls.VersionName(state.Version))
	}
	return scram.NewTLSUniqueBinding(state.TLSUnique), nil
}
