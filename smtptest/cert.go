package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// CertOptions describes a certificate made by NewCertificate.
//
// If both DNSNames and IPs are empty, the certificate is valid for
// "localhost", 127.0.0.1 and ::1. Otherwise it is valid for exactly the
// names and addresses given, so a certificate for "example.com" alone will
// not verify when a client dials 127.0.0.1.
type CertOptions struct {
	// DNSNames are the host names the certificate is valid for.
	DNSNames []string
	// IPs are the IP addresses the certificate is valid for.
	IPs []net.IP
	// NotBefore is when the certificate becomes valid; zero means one hour
	// ago (or one hour before NotAfter, if NotAfter is earlier than that).
	NotBefore time.Time
	// NotAfter is when the certificate expires; zero means ten years after
	// NotBefore.
	NotAfter time.Time
}

// NewCertificate makes a self-signed ECDSA P-256 certificate that is its own
// certificate authority, and returns it both as a key pair for a server and
// as a parsed certificate for a client to trust.
func NewCertificate(opts CertOptions) (tls.Certificate, *x509.Certificate, error) {
	dnsNames, ips := opts.DNSNames, opts.IPs
	if len(dnsNames) == 0 && len(ips) == 0 {
		dnsNames = []string{"localhost"}
		ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}

	notBefore, notAfter := opts.NotBefore, opts.NotAfter
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
		if !notAfter.IsZero() && notAfter.Before(notBefore) {
			notBefore = notAfter.Add(-time.Hour)
		}
	}
	if notAfter.IsZero() {
		notAfter = notBefore.AddDate(10, 0, 0)
	}
	if notAfter.Before(notBefore) {
		return tls.Certificate{}, nil, fmt.Errorf("smtptest: certificate NotAfter %v is before NotBefore %v", notAfter, notBefore)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtptest: generating certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtptest: generating certificate serial number: %w", err)
	}

	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"smtptest"}, CommonName: "smtptest"},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	// The template is both the new certificate and its issuer: self-signed.
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtptest: creating certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtptest: parsing the certificate just created: %w", err)
	}

	pair := tls.Certificate{
		Certificate: [][]byte{der},
		PrivateKey:  key,
		Leaf:        cert,
	}
	return pair, cert, nil
}

// The process-wide certificate used by all servers in this package, made the
// first time it is needed.
var (
	defaultOnce sync.Once
	defaultPair tls.Certificate
	defaultCert *x509.Certificate
)

// defaultCertificate returns the process-wide certificate, making it if
// needed.
func defaultCertificate() (tls.Certificate, *x509.Certificate) {
	defaultOnce.Do(func() {
		pair, cert, err := NewCertificate(CertOptions{})
		if err != nil {
			panic(err)
		}
		defaultPair, defaultCert = pair, cert
	})
	return defaultPair, defaultCert
}

// Certificate returns the self-signed certificate that the servers in this
// package present; it is made once per process and must not be modified.
func Certificate() *x509.Certificate {
	_, cert := defaultCertificate()
	return cert
}

// ServerTLSConfig returns a new TLS configuration for a server, holding the
// key pair of Certificate.
func ServerTLSConfig() *tls.Config {
	pair, _ := defaultCertificate()
	return &tls.Config{Certificates: []tls.Certificate{pair}}
}

// ClientTLSConfig returns a new TLS configuration for a client that trusts
// only Certificate.
//
// ServerName is left empty so that the client fills it in from the address
// it dials (tls.Dial and go-smtp's DialTLS and DialStartTLS do); both
// "localhost" and 127.0.0.1 verify. With tls.Client, set ServerName first.
func ClientTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(Certificate())
	return &tls.Config{RootCAs: pool}
}

// CertificatePEM returns Certificate in PEM form, for clients configured from a CA file.
func CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: Certificate().Raw})
}
