package smtpkit

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
)

// tlsConfig returns the TLS configuration for this server: a copy of the
// one prepared before the first connection, with ServerName set to the host
// when empty.
func (t *target) tlsConfig() *tls.Config {
	path, _ := t.netPath() // made, without error, before the connection this handshake runs on
	cfg := path.tls.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = t.host
	}
	return cfg
}

// check validates the options that need no file, without connecting:
// the versions, the pins, and that a certificate comes with its key.
func (o *TLSOptions) check() error {
	if _, _, err := o.versions(); err != nil {
		return err
	}
	if _, err := parseFingerprints(o.Fingerprints); err != nil {
		return err
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("Options.TLS.CertFile and KeyFile go together: set both (the client certificate " +
			"and its private key, in PEM), or neither")
	}
	return nil
}

// apply returns a copy of base (nil: the zero configuration) with the
// options applied. It reads the files, and logs the versions it drops.
func (o *TLSOptions) apply(base *tls.Config, log *slog.Logger) (*tls.Config, error) {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	allowed, dropped, err := o.versions()
	if err != nil {
		return nil, err
	}
	if len(dropped) > 0 && log != nil {
		log.Warn("smtpkit: Options.TLS.Versions names versions this runtime (Go's crypto/tls) cannot speak; "+
			"they were dropped (set StrictVersions to refuse instead)",
			"dropped", versionNames(dropped), "allowed", versionNames(allowed))
	}
	var checks []func(tls.ConnectionState) error
	if len(allowed) > 0 {
		cfg.MinVersion, cfg.MaxVersion = allowed[0], allowed[len(allowed)-1]
		if int(cfg.MaxVersion-cfg.MinVersion)+1 != len(allowed) {
			// A gap: the range would allow the versions in it.
			checks = append(checks, versionCheck(allowed))
		}
	}
	if o.CAFile != "" {
		if cfg.RootCAs, err = loadCAFile(o.CAFile); err != nil {
			return nil, err
		}
	}
	if o.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot load the client certificate of Options.TLS.CertFile and KeyFile: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if o.ServerName != "" {
		cfg.ServerName = o.ServerName
	}
	if o.InsecureSkipVerify {
		cfg.InsecureSkipVerify = true
	}
	pins, err := parseFingerprints(o.Fingerprints)
	if err != nil {
		return nil, err
	}
	if len(pins) > 0 {
		// The pins replace chain and name verification: a pinned certificate
		// is trusted whoever signed it, and VerifyConnection refuses the rest.
		cfg.InsecureSkipVerify = true
		checks = append(checks, pinCheck(pins))
	}
	if len(checks) > 0 {
		user := cfg.VerifyConnection
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			for _, check := range checks {
				if err := check(cs); err != nil {
					return err
				}
			}
			if user != nil {
				return user(cs)
			}
			return nil
		}
	}
	return cfg, nil
}

// spoken reports whether Go's crypto/tls can speak version v.
func spoken(v uint16) bool { return v >= tls.VersionTLS10 && v <= tls.VersionTLS13 }

// versions returns the versions of Versions this runtime speaks, sorted,
// and the ones it cannot. It fails when StrictVersions refuses to drop any,
// or when dropping them would leave none.
func (o *TLSOptions) versions() (allowed, dropped []uint16, err error) {
	for _, v := range o.Versions {
		if spoken(v) {
			allowed = append(allowed, v)
		} else if !slices.Contains(dropped, v) {
			dropped = append(dropped, v)
		}
	}
	slices.Sort(allowed)
	allowed = slices.Compact(allowed)
	switch {
	case len(dropped) > 0 && o.StrictVersions:
		verb, pronoun := "is", "it"
		if len(dropped) > 1 {
			verb, pronoun = "are", "them"
		}
		return nil, nil, fmt.Errorf("Options.TLS.Versions: %s %s not supported by this runtime (Go's crypto/tls); "+
			"remove %s or turn off StrictVersions", versionNames(dropped), verb, pronoun)
	case len(dropped) > 0 && len(allowed) == 0:
		return nil, nil, fmt.Errorf("Options.TLS.Versions allows only %s, which this runtime (Go's crypto/tls) "+
			"cannot speak; allow TLS 1.2 or TLS 1.3", versionNames(dropped))
	}
	return allowed, dropped, nil
}

// versionName names a version as TLSOptions.Versions holds it.
func versionName(v uint16) string {
	switch {
	case v == VersionSSL30:
		return "SSL 3.0"
	case spoken(v):
		return tls.VersionName(v)
	}
	return fmt.Sprintf("unknown version 0x%04X", v)
}

// versionNames names versions as "TLS 1.0, TLS 1.1 and TLS 1.3".
func versionNames(vs []uint16) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = versionName(v)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// versionCheck refuses a negotiated version outside allowed, which has gaps
// that MinVersion and MaxVersion cannot express.
func versionCheck(allowed []uint16) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if slices.Contains(allowed, cs.Version) {
			return nil
		}
		return fmt.Errorf("the server chose %s, which Options.TLS.Versions does not allow (it allows %s)",
			versionName(cs.Version), versionNames(allowed))
	}
}

// loadCAFile reads a PEM file of certificates to trust.
func loadCAFile(name string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read Options.TLS.CAFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("Options.TLS.CAFile %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", name)
	}
	return pool, nil
}

// parseFingerprints parses SHA-256 fingerprints in hex, colons and case optional.
func parseFingerprints(fps []string) ([][sha256.Size]byte, error) {
	pins := make([][sha256.Size]byte, 0, len(fps))
	for i, fp := range fps {
		digits := strings.ReplaceAll(strings.TrimSpace(fp), ":", "")
		var pin [sha256.Size]byte
		n, err := hex.Decode(pin[:], []byte(digits))
		if err == nil && n == len(pin) && len(digits) == 2*len(pin) {
			pins = append(pins, pin)
			continue
		}
		hint := ""
		if err == nil && len(digits) == 40 {
			hint = "; it looks like a SHA-1 fingerprint: pin the SHA-256 one (openssl x509 -noout -fingerprint -sha256)"
		}
		return nil, fmt.Errorf("Options.TLS.Fingerprints[%d] %q is not a SHA-256 fingerprint: "+
			"want 64 hex digits, colons optional, such as 5E:A1:...%s", i, fp, hint)
	}
	return pins, nil
}

// pinCheck accepts the connection only when the server's certificate is one of pins.
func pinCheck(pins [][sha256.Size]byte) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server presented no certificate, and Options.TLS.Fingerprints pins one")
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		if slices.Contains(pins, sum) {
			return nil
		}
		return fmt.Errorf("the server's certificate (%s, SHA-256 %s) matches none of Options.TLS.Fingerprints: "+
			"it is not the pinned certificate; if the server's certificate was replaced on purpose, pin the new one",
			cs.PeerCertificates[0].Subject, colonHex(sum[:]))
	}
}

// colonHex writes b as upper-case hex bytes separated by colons.
func colonHex(b []byte) string {
	var s strings.Builder
	for i, x := range b {
		if i > 0 {
			s.WriteByte(':')
		}
		fmt.Fprintf(&s, "%02X", x)
	}
	return s.String()
}
