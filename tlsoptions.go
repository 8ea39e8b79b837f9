package smtpkit

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
)

// tlsConfig returns the TLS configuration for this server: a copy of the
// Dialer's prepared one, with ServerName set to the host when empty.
func (t *target) tlsConfig() *tls.Config {
	cfg := t.p.tls.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = t.host
	}
	return cfg
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
		log.Warn("smtpkit: TLS versions this runtime (Go's crypto/tls) cannot speak were dropped "+
			"(strict versions would refuse instead)",
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
			return nil, &OptionError{Field: "TLS.CAFile", Value: o.CAFile, Err: err}
		}
	}
	if !o.NoSessionResumption && cfg.ClientSessionCache == nil {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0) // shared by every clone: the Dialer's connections
	}
	if o.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, &OptionError{Field: "TLS.CertFile", Value: o.CertFile,
				Err: fmt.Errorf("cannot load the client certificate and its key (the key file %s): %w", o.KeyFile, err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	var pins [][sha256.Size]byte
	for i, fp := range o.Fingerprints {
		pin, err := ParseFingerprint(fp)
		if err != nil {
			return nil, &OptionError{Field: fmt.Sprintf("TLS.Fingerprints[%d]", i), Value: fp, Err: err}
		}
		pins = append(pins, pin)
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
		return nil, nil, fmt.Errorf("%s %s not supported by this runtime (Go's crypto/tls), "+
			"and strict versions refuse to drop %s: remove %s", versionNames(dropped), verb, pronoun, pronoun)
	case len(dropped) > 0 && len(allowed) == 0:
		return nil, nil, fmt.Errorf("only %s %s allowed, which this runtime (Go's crypto/tls) "+
			"cannot speak: allow TLS 1.2 or TLS 1.3", versionNames(dropped), map[bool]string{true: "are", false: "is"}[len(dropped) > 1])
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
		return fmt.Errorf("the server chose %s, which the TLS versions allowed do not include (they are %s)",
			versionName(cs.Version), versionNames(allowed))
	}
}

// loadCAFile reads a PEM file of certificates to trust.
func loadCAFile(name string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

// pinCheck accepts the connection only when the server's certificate is one of pins.
func pinCheck(pins [][sha256.Size]byte) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server presented no certificate, and a fingerprint pins one")
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		if slices.Contains(pins, sum) {
			return nil
		}
		return fmt.Errorf("the server's certificate (%s, SHA-256 %s) matches none of the pinned fingerprints: "+
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
