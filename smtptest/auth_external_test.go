package smtptest_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"testing"

	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

func TestAuthExternal(t *testing.T) {
	pair, _, err := smtptest.NewCertificate(smtptest.CertOptions{DNSNames: []string{"client.example"}})
	if err != nil {
		t.Fatal(err)
	}
	name := pair.Leaf.Subject.CommonName
	if name == "" {
		t.Fatalf("client certificate has no common name: %v", pkix.Name{})
	}
	withCert := smtptest.ClientTLSConfig()
	withCert.Certificates = []tls.Certificate{pair}

	for _, sec := range []smtptest.Security{smtptest.StartTLS, smtptest.ImplicitTLS} {
		t.Run(sec.String(), func(t *testing.T) {
			srv := newAuthServer(t, sec, "EXTERNAL")

			c := dialTLS(t, srv, withCert)
			authenticate(t, c, must(sasl.NewExternalClient("")))
			sendAndCheck(t, srv, c, name, "EXTERNAL")

			c = dialTLS(t, srv, withCert)
			authenticate(t, c, must(sasl.NewExternalClient(name)))

			wantCode(t, dialTLS(t, srv, withCert).Auth(must(sasl.NewExternalClient("root"))), 535)
			wantCode(t, dial(t, srv).Auth(must(sasl.NewExternalClient(""))), 535)
		})
	}
}
