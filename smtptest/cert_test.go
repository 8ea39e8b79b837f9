package smtptest_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/smtptest"
)

func TestCertificateIsOncePerProcess(t *testing.T) {
	first, second := smtptest.Certificate(), smtptest.Certificate()
	if first != second {
		t.Fatal("Certificate returned two different certificates")
	}
}

func TestCertificateProperties(t *testing.T) {
	cert := smtptest.Certificate()
	if !cert.IsCA {
		t.Error("certificate is not a CA")
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 || cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		t.Errorf("key usage = %v, want CertSign and DigitalSignature", cert.KeyUsage)
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("public key algorithm = %v, want ECDSA", cert.PublicKeyAlgorithm)
	}
	now := time.Now()
	if !cert.NotBefore.Before(now.Add(-50*time.Minute)) || cert.NotAfter.Before(now.AddDate(9, 11, 0)) {
		t.Errorf("validity %v to %v, want from an hour ago for ten years", cert.NotBefore, cert.NotAfter)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := cert.VerifyHostname(host); err != nil {
			t.Errorf("VerifyHostname(%q): %v", host, err)
		}
	}
}

func TestClientTLSConfigTrustsServer(t *testing.T) {
	if smtptest.ClientTLSConfig().ServerName != "" {
		t.Error("ClientTLSConfig has a ServerName")
	}
	if len(smtptest.ServerTLSConfig().Certificates) != 1 {
		t.Error("ServerTLSConfig does not hold exactly one key pair")
	}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			if err := handshake(t, host, smtptest.ServerTLSConfig()); err != nil {
				t.Fatalf("handshake: %v", err)
			}
		})
	}
}

func TestNewCertificateExpired(t *testing.T) {
	pair, cert, err := smtptest.NewCertificate(smtptest.CertOptions{NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !cert.NotBefore.Before(cert.NotAfter) {
		t.Fatalf("NotBefore %v is not before NotAfter %v", cert.NotBefore, cert.NotAfter)
	}
	err = handshakeTrusting(t, "127.0.0.1", &tls.Config{Certificates: []tls.Certificate{pair}}, cert)
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Fatalf("handshake error = %v, want an expired certificate error", err)
	}
}

func TestNewCertificateWrongHost(t *testing.T) {
	pair, cert, err := smtptest.NewCertificate(smtptest.CertOptions{DNSNames: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.IPAddresses) != 0 {
		t.Fatalf("certificate for example.com also holds IPs %v", cert.IPAddresses)
	}
	err = handshakeTrusting(t, "127.0.0.1", &tls.Config{Certificates: []tls.Certificate{pair}}, cert)
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Fatalf("handshake error = %v, want a host name error", err)
	}
}

func TestNewCertificateRejectsReversedDates(t *testing.T) {
	now := time.Now()
	_, _, err := smtptest.NewCertificate(smtptest.CertOptions{NotBefore: now, NotAfter: now.Add(-time.Hour)})
	if err == nil {
		t.Fatal("NewCertificate accepted NotAfter before NotBefore")
	}
}

// handshake runs a TLS handshake between a server using serverConfig and a
// client using ClientTLSConfig that dials host, and returns the client's
// error.
func handshake(t *testing.T, host string, serverConfig *tls.Config) error {
	t.Helper()
	return handshakeWith(t, host, serverConfig, smtptest.ClientTLSConfig())
}

// handshakeTrusting is like handshake, but the client trusts only root.
func handshakeTrusting(t *testing.T, host string, serverConfig *tls.Config, root *x509.Certificate) error {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return handshakeWith(t, host, serverConfig, &tls.Config{RootCAs: pool})
}

// handshakeWith runs a TLS handshake over a loopback TCP connection.
func handshakeWith(t *testing.T, host string, serverConfig, clientConfig *tls.Config) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		tls.Server(c, serverConfig).Handshake()
	}()
	defer func() { <-serverDone }()

	// The listener is on 127.0.0.1 only: if host is "localhost" and
	// resolves to ::1 first, the dialer falls back to 127.0.0.1. The
	// client verifies the certificate against host.
	_, port, _ := net.SplitHostPort(l.Addr().String())
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: clientConfig}
	c, err := dialer.Dial("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return err
	}
	return c.Close()
}
