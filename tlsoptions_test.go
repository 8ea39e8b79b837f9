package smtpkit_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// tlsServer starts a server of kind sec whose TLS configuration adjust changes first.
func tlsServer(t *testing.T, sec smtptest.Security, adjust func(*tls.Config)) *smtptest.Server {
	t.Helper()
	srv := smtptest.NewUnstartedServer(sec)
	adjust(srv.Config.TLSConfig)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// onlyVersion makes a server speak version v alone.
func onlyVersion(v uint16) func(*tls.Config) {
	return func(c *tls.Config) { c.MinVersion, c.MaxVersion = v, v }
}

// withCertificate makes a server present pair.
func withCertificate(pair tls.Certificate) func(*tls.Config) {
	return func(c *tls.Config) { c.Certificates = []tls.Certificate{pair} }
}

// newCert makes a certificate, failing the test on error.
func newCert(t *testing.T, opts smtptest.CertOptions) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	pair, cert, err := smtptest.NewCertificate(opts)
	if err != nil {
		t.Fatal(err)
	}
	return pair, cert
}

// writeFile writes b to a new file in the test's directory and returns its name.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// pin returns cert's SHA-256 fingerprint, lower case with colons when pretty.
func pin(cert *x509.Certificate, pretty bool) string {
	sum := sha256.Sum256(cert.Raw)
	if !pretty {
		return strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = hex.EncodeToString([]byte{b})
	}
	return strings.Join(parts, ":")
}

// checkTLSFailure fails the test unless err is an Error of the TLS phase holding want.
func checkTLSFailure(t *testing.T, c *smtpkit.Client, err error, want string) {
	t.Helper()
	if c != nil {
		c.Close()
		t.Fatalf("Dial succeeded in %s; want a TLS error %q", c.Security(), want)
	}
	if phaseOf(t, err) != smtpkit.PhaseTLS || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v; want an error of phase tls holding %q", err, want)
	}
}

// negotiated returns the TLS version in use, failing the test when there is none.
func negotiated(t *testing.T, c *smtpkit.Client) uint16 {
	t.Helper()
	st, ok := c.TLSConnectionState()
	if !ok {
		t.Fatalf("no TLS in mode %s", c.Security())
	}
	return st.Version
}

// TestTLSVersionTooOldForClient: a server that stops at TLS 1.2 and a
// client that allows only 1.3 fail cleanly in the TLS phase, in every mode.
func TestTLSVersionTooOldForClient(t *testing.T) {
	for _, tt := range []struct {
		server smtptest.Security
		mode   smtpkit.Security
	}{
		{smtptest.ImplicitTLS, smtpkit.SecurityImplicitTLS},
		{smtptest.StartTLS, smtpkit.SecurityStartTLS},
		{smtptest.StartTLS, smtpkit.SecurityAuto},
	} {
		t.Run(tt.server.String()+"/"+tt.mode.String(), func(t *testing.T) {
			srv := tlsServer(t, tt.server, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
				Security:        tt.mode,
				TLSConfig:       smtptest.ClientTLSConfig(),
				TLS:             smtpkit.TLSOptions{Versions: []uint16{tls.VersionTLS13}},
				GreetingTimeout: time.Minute, // Auto must not need it
			})
			checkTLSFailure(t, c, err, "protocol version")
		})
	}
}

// TestTLSVersionChosen: a client that allows only TLS 1.2 gets it from a
// server that would speak 1.3, and the transcript says so.
func TestTLSVersionChosen(t *testing.T) {
	for _, tt := range []struct {
		server smtptest.Security
		mode   smtpkit.Security
	}{
		{smtptest.ImplicitTLS, smtpkit.SecurityImplicitTLS},
		{smtptest.StartTLS, smtpkit.SecurityStartTLS},
		{smtptest.ImplicitTLS, smtpkit.SecurityTLSAuto},
	} {
		t.Run(tt.server.String()+"/"+tt.mode.String(), func(t *testing.T) {
			srv := smtptest.NewServer(tt.server)
			defer srv.Close()
			var transcript safeBuffer
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
				Security:   tt.mode,
				TLSConfig:  smtptest.ClientTLSConfig(),
				TLS:        smtpkit.TLSOptions{Versions: []uint16{tls.VersionTLS12}},
				Transcript: &transcript,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			st, _ := c.TLSConnectionState()
			if st.Version != tls.VersionTLS12 {
				t.Errorf("negotiated %s, want TLS 1.2", tls.VersionName(st.Version))
			}
			want := "* TLS up: TLS 1.2, " + tls.CipherSuiteName(st.CipherSuite) + ", "
			if !strings.Contains(transcript.String(), want) {
				t.Errorf("the transcript lacks %q:\n%s", want, transcript.String())
			}
		})
	}
}

func TestTLSVersionSSL30(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	dial := func(tlsOpts smtpkit.TLSOptions, log *strings.Builder) (*smtpkit.Client, error) {
		return smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
			Security:  smtpkit.SecurityImplicitTLS,
			TLSConfig: smtptest.ClientTLSConfig(),
			TLS:       tlsOpts,
			Logger:    slogTo(log),
		})
	}
	t.Run("dropped with a warning", func(t *testing.T) {
		var log strings.Builder
		c, err := dial(smtpkit.TLSOptions{Versions: []uint16{smtpkit.VersionSSL30, tls.VersionTLS12}}, &log)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if v := negotiated(t, c); v != tls.VersionTLS12 {
			t.Errorf("negotiated %s, want TLS 1.2", tls.VersionName(v))
		}
		if l := log.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, `dropped="SSL 3.0"`) {
			t.Errorf("no warning that SSL 3.0 was dropped in the log:\n%s", l)
		}
	})
	before := srv.Connections()
	for _, tt := range []struct {
		name string
		opts smtpkit.TLSOptions
		want string
	}{
		{"strict", smtpkit.TLSOptions{Versions: []uint16{smtpkit.VersionSSL30, tls.VersionTLS12}, StrictVersions: true},
			"SSL 3.0 is not supported by this runtime (Go's crypto/tls), and strict versions refuse to drop it: remove it (try Options.TLS.StrictVersions = false)"},
		{"strict, two", smtpkit.TLSOptions{Versions: []uint16{tls.VersionTLS13, 0x0305, smtpkit.VersionSSL30}, StrictVersions: true},
			"unknown version 0x0305 and SSL 3.0 are not supported by this runtime (Go's crypto/tls), and strict versions refuse to drop them: remove them"},
		{"nothing else", smtpkit.TLSOptions{Versions: []uint16{smtpkit.VersionSSL30}},
			"only SSL 3.0 is allowed, which this runtime (Go's crypto/tls) cannot speak"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			c, err := dial(tt.opts, &log)
			checkOptionError(t, c, err, "TLS.Versions", tt.want)
		})
	}
	if n := srv.Connections() - before; n != 0 {
		t.Errorf("refused settings made %d connections", n)
	}
}

// TestTLSVersionsWithAGap: TLS 1.0 and 1.3 allowed means neither 1.1 nor
// 1.2, although Go's client is given the range from 1.0 to 1.3. It also
// shows that Go's client still speaks TLS 1.0 and 1.1 when allowed.
func TestTLSVersionsWithAGap(t *testing.T) {
	gap := []uint16{tls.VersionTLS13, tls.VersionTLS10}
	for _, tt := range []struct {
		server  uint16
		allowed []uint16
		ok      bool
	}{
		{tls.VersionTLS10, gap, true},
		{tls.VersionTLS11, gap, false},
		{tls.VersionTLS12, gap, false},
		{tls.VersionTLS13, gap, true},
		{tls.VersionTLS11, []uint16{tls.VersionTLS11}, true},
	} {
		t.Run(tls.VersionName(tt.server), func(t *testing.T) {
			srv := tlsServer(t, smtptest.ImplicitTLS, onlyVersion(tt.server))
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
				Security:  smtpkit.SecurityImplicitTLS,
				TLSConfig: smtptest.ClientTLSConfig(),
				TLS:       smtpkit.TLSOptions{Versions: tt.allowed},
			})
			if !tt.ok {
				checkTLSFailure(t, c, err, "the server chose "+tls.VersionName(tt.server)+
					", which the TLS versions allowed do not include (they are TLS 1.0 and TLS 1.3)")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if v := negotiated(t, c); v != tt.server {
				t.Errorf("negotiated %s", tls.VersionName(v))
			}
			if err := c.Noop(testContext(t)); err != nil {
				t.Errorf("NOOP over %s: %v", tls.VersionName(tt.server), err)
			}
		})
	}
}

func TestTLSCAFile(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	t.Run("trusted", func(t *testing.T) {
		c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
			Security: smtpkit.SecurityStartTLS,
			TLS:      smtpkit.TLSOptions{CAFile: writeFile(t, "ca.pem", smtptest.CertificatePEM())},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if st, _ := c.TLSConnectionState(); len(st.VerifiedChains) == 0 {
			t.Error("no verified chain")
		}
	})
	before := srv.Connections()
	for _, tt := range []struct {
		name, file, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nothing.pem"), "cannot read the CA file: open "},
		{"empty", writeFile(t, "empty.pem", nil), "holds no PEM certificate"},
		{"not PEM", writeFile(t, "der.crt", smtptest.Certificate().Raw), "holds no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
				Security: smtpkit.SecurityAuto,
				TLS:      smtpkit.TLSOptions{CAFile: tt.file},
			})
			checkOptionError(t, c, err, "TLS.CAFile", tt.want)
		})
	}
	if n := srv.Connections() - before; n != 0 {
		t.Errorf("unusable CA files made %d connections", n)
	}
}

func TestTLSFingerprints(t *testing.T) {
	// A certificate nobody trusts, for a name the client does not dial.
	pair, cert := newCert(t, smtptest.CertOptions{DNSNames: []string{"elsewhere.test"}})
	stranger := tlsServer(t, smtptest.ImplicitTLS, withCertificate(pair))
	for _, pretty := range []bool{true, false} {
		t.Run("pinned, untrusted", func(t *testing.T) {
			c, err := smtpkit.Dial(testContext(t), stranger.Addr, &smtpkit.Options{
				Security: smtpkit.SecurityAuto,
				TLS:      smtpkit.TLSOptions{Fingerprints: []string{pin(smtptest.Certificate(), true), pin(cert, pretty)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		})
	}
	t.Run("not pinned", func(t *testing.T) {
		// The server's certificate is trusted, but it is not the pinned one.
		srv := smtptest.NewServer(smtptest.ImplicitTLS)
		defer srv.Close()
		c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
			Security:  smtpkit.SecurityAuto,
			TLSConfig: smtptest.ClientTLSConfig(),
			TLS:       smtpkit.TLSOptions{Fingerprints: []string{pin(cert, true)}},
		})
		checkTLSFailure(t, c, err, "SHA-256 "+strings.ToUpper(pin(smtptest.Certificate(), true))+
			") matches none of the pinned fingerprints")
	})
	before := stranger.Connections()
	for _, tt := range []struct {
		name, pin, want string
	}{
		{"not hex", strings.Repeat("zz", 32), `Options.TLS.Fingerprints[0] "zzzz`},
		{"too short", pin(cert, true)[3:], "want 64 hex digits"},
		{"SHA-1", strings.Repeat("ab", 20), "this is a SHA-1 fingerprint"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := smtpkit.Dial(testContext(t), stranger.Addr, &smtpkit.Options{
				Security: smtpkit.SecurityImplicitTLS,
				TLS:      smtpkit.TLSOptions{Fingerprints: []string{tt.pin}},
			})
			checkOptionError(t, c, err, "TLS.Fingerprints[0]", tt.want)
		})
	}
	if n := stranger.Connections() - before; n != 0 {
		t.Errorf("malformed pins made %d connections", n)
	}
}

func TestTLSServerName(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS) // the certificate names localhost, 127.0.0.1 and ::1
	defer srv.Close()
	dial := func(serverName string) (*smtpkit.Client, error) {
		cfg := smtptest.ClientTLSConfig()
		cfg.ServerName = serverName
		return smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityImplicitTLS, TLSConfig: cfg})
	}
	c, err := dial("mail.example.com")
	checkTLSFailure(t, c, err, "mail.example.com")
	if !errors.As(err, new(x509.HostnameError)) {
		t.Errorf("err = %v, want an x509.HostnameError", err)
	}
	c, err = dial("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := c.TLSConnectionState(); st.ServerName != "localhost" {
		t.Errorf("ServerName %q, want localhost", st.ServerName)
	}
	c.Close()
}

func TestTLSExpiredCertificate(t *testing.T) {
	pair, cert := newCert(t, smtptest.CertOptions{NotAfter: time.Now().Add(-24 * time.Hour)})
	srv := tlsServer(t, smtptest.StartTLS, withCertificate(pair))
	trust := &tls.Config{RootCAs: x509.NewCertPool()}
	trust.RootCAs.AddCert(cert)
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityStartTLS, TLSConfig: trust})
	checkTLSFailure(t, c, err, "expired")
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Errorf("err = %v, want x509.CertificateInvalidError Expired", err)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	pair, cert := newCert(t, smtptest.CertOptions{DNSNames: []string{"client.test"}})
	key, err := x509.MarshalPKCS8PrivateKey(pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, "client.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	keyFile := writeFile(t, "client.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))

	var mu sync.Mutex
	var got [][]byte
	srv := tlsServer(t, smtptest.ImplicitTLS, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAnyClientCert
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			mu.Lock()
			defer mu.Unlock()
			for _, pc := range cs.PeerCertificates {
				got = append(got, pc.Raw)
			}
			return nil
		}
	})
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security:  smtpkit.SecurityImplicitTLS,
		TLSConfig: smtptest.ClientTLSConfig(),
		TLS:       smtpkit.TLSOptions{CertFile: certFile, KeyFile: keyFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	mu.Lock()
	if len(got) != 1 || string(got[0]) != string(cert.Raw) {
		t.Errorf("the server got %d certificates, want the client's one", len(got))
	}
	mu.Unlock()

	before := srv.Connections()
	for _, tt := range []struct {
		name string
		opts smtpkit.TLSOptions
		want string
	}{
		{"key missing", smtpkit.TLSOptions{CertFile: certFile}, "without its private key"},
		{"key is a certificate", smtpkit.TLSOptions{CertFile: certFile, KeyFile: certFile}, "cannot load the client certificate"},
		{"no file", smtpkit.TLSOptions{CertFile: certFile + ".nothing", KeyFile: keyFile}, "cannot load the client certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityImplicitTLS, TLS: tt.opts})
			checkOptionError(t, c, err, "TLS.", tt.want)
		})
	}
	if n := srv.Connections() - before; n != 0 {
		t.Errorf("unusable client certificates made %d connections", n)
	}
}

func TestTLSInsecureSkipVerify(t *testing.T) {
	pair, _ := newCert(t, smtptest.CertOptions{DNSNames: []string{"elsewhere.test"}})
	srv := tlsServer(t, smtptest.StartTLS, withCertificate(pair))
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityStartTLS})
	checkTLSFailure(t, c, err, "certificate")
	c, err = smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security:  smtpkit.SecurityStartTLS,
		TLSConfig: &tls.Config{InsecureSkipVerify: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestTLSConfigNotModified: the options apply to a copy of TLSConfig, whose
// own VerifyConnection still runs.
func TestTLSConfigNotModified(t *testing.T) {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	var calls int
	user := &tls.Config{ServerName: "localhost"}
	user.VerifyConnection = func(tls.ConnectionState) error { calls++; return nil }
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security:  smtpkit.SecurityImplicitTLS,
		TLSConfig: user,
		TLS: smtpkit.TLSOptions{
			Versions:     []uint16{tls.VersionTLS10, tls.VersionTLS13},
			Fingerprints: []string{pin(smtptest.Certificate(), true)},
			CAFile:       writeFile(t, "ca.pem", smtptest.CertificatePEM()),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if calls != 1 {
		t.Errorf("the TLSConfig's VerifyConnection ran %d times, want 1", calls)
	}
	if user.MinVersion != 0 || user.MaxVersion != 0 || user.InsecureSkipVerify || user.ServerName != "localhost" || user.RootCAs != nil {
		t.Errorf("Options.TLSConfig was modified: %+v", user)
	}
}

// TestTLSSessionResumption: the connections of one Dialer resume the TLS
// session of an earlier one, implicit TLS and STARTTLS alike, unless
// resumption is turned off; a Dialer does not share sessions with another.
func TestTLSSessionResumption(t *testing.T) {
	for _, mode := range []smtptest.Security{smtptest.ImplicitTLS, smtptest.StartTLS} {
		srv := smtptest.NewServer(mode)
		defer srv.Close()
		resumed := func(d *smtpkit.Dialer) []bool {
			var out []bool
			d.Options.Trace = func(e smtpkit.Event) {
				if e, ok := e.(smtpkit.TLSDone); ok && e.Err == nil {
					out = append(out, e.State.DidResume)
				}
			}
			for range 3 {
				c, err := d.Dial(testContext(t), srv.Addr)
				if err != nil {
					t.Fatal(err)
				}
				c.Quit(testContext(t))
			}
			return out
		}
		if got := resumed(srv.Dialer()); !slices.Equal(got, []bool{false, true, true}) {
			t.Errorf("%v: resumed %v, want [false true true]", mode, got)
		}
		off := srv.Dialer()
		off.Options.TLS.NoSessionResumption = true
		if got := resumed(off); !slices.Equal(got, []bool{false, false, false}) {
			t.Errorf("%v, resumption off: resumed %v", mode, got)
		}
	}
}
