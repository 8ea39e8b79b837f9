package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certName is the name the sink's certificate is issued to and the
// clients ask for.
const certName = "localhost"

// sinkCert is a self-signed certificate for the TLS sink, and the pool of
// roots that trusts it.
type sinkCert struct {
	certPEM, keyPEM []byte
	roots           *x509.CertPool
}

// newSinkCert generates an ECDSA P-256 certificate for localhost and
// 127.0.0.1, valid for a day, that is its own root.
func newSinkCert() (*sinkCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtpkit bench sink"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{certName},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &sinkCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		roots:   roots,
	}, nil
}

// serverConfig is the sink's side: the certificate, and Go's defaults
// otherwise (TLS 1.2 and 1.3, session tickets on).
func (c *sinkCert) serverConfig() (*tls.Config, error) {
	pair, err := tls.X509KeyPair(c.certPEM, c.keyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}}, nil
}

// clientConfig is what every client is given: trust the certificate, ask
// for its name. It has no session cache.
func (c *sinkCert) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.roots, ServerName: certName}
}

// writeFiles writes the certificate and key to dir for a sink in a child
// process.
func (c *sinkCert) writeFiles(dir string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, "sink-cert.pem")
	keyFile = filepath.Join(dir, "sink-key.pem")
	err = errors.Join(os.WriteFile(certFile, c.certPEM, 0o600), os.WriteFile(keyFile, c.keyPEM, 0o600))
	return certFile, keyFile, err
}

// loadServerConfig reads what writeFiles wrote.
func loadServerConfig(certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}}, nil
}
