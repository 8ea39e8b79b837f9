package smtpkit_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// Secrets that no OptionError may show.
const (
	secretPassword      = "s3cr3t-Pa55w0rd"
	secretToken         = "t0k3n-s3cr3t-ya29"
	secretProxyPassword = "pr0xy-s3cr3t"
)

// optionErrors returns every *OptionError in err, in order, looking into
// errors.Join's lists.
func optionErrors(err error) []*smtpkit.OptionError {
	var out []*smtpkit.OptionError
	var walk func(error)
	walk = func(e error) {
		if oe, ok := e.(*smtpkit.OptionError); ok {
			out = append(out, oe)
			return
		}
		if list, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range list.Unwrap() {
				walk(e)
			}
			return
		}
		if next := errors.Unwrap(e); next != nil {
			walk(next)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// checkNoSecret fails the test when s shows a secret.
func checkNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{secretPassword, secretToken, secretProxyPassword} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows a secret: %q", what, s)
		}
	}
}

// TestValidateEachField sets each field of Options to a bad value and
// checks that Validate names exactly that field, with the value as given
// (never a secret). Validate and OptionError did not exist at dcaafbe.
func TestValidateEachField(t *testing.T) {
	goodPin := strings.Repeat("ab", 32)
	noBind := func(*net.TCPAddr) *net.TCPAddr { return nil }
	tests := []struct {
		name  string
		opts  smtpkit.Options
		field string
		value string
	}{
		{"Security out of range", smtpkit.Options{Security: smtpkit.Security(99)}, "Security", "99"},
		{"Security negative", smtpkit.Options{Security: smtpkit.Security(-1)}, "Security", "-1"},
		{"ConnectTimeout negative", smtpkit.Options{ConnectTimeout: -time.Second}, "ConnectTimeout", "-1s"},
		{"GreetingTimeout negative", smtpkit.Options{GreetingTimeout: -time.Second}, "GreetingTimeout", "-1s"},
		{"CommandTimeout negative", smtpkit.Options{CommandTimeout: -time.Second}, "CommandTimeout", "-1s"},
		{"DataTimeout negative", smtpkit.Options{DataTimeout: -time.Second}, "DataTimeout", "-1s"},
		{"Timeout negative", smtpkit.Options{Timeout: -time.Millisecond}, "Timeout", "-1ms"},
		{"LocalName with CRLF", smtpkit.Options{LocalName: "evil\r\nMAIL FROM:<x>"}, "LocalName", "evil\r\nMAIL FROM:<x>"},
		{"LocalName with a space", smtpkit.Options{LocalName: "two words"}, "LocalName", "two words"},
		{"LocalAddr a host name", smtpkit.Options{LocalAddr: "localhost"}, "LocalAddr", "localhost"},
		{"Dialer with LocalAddr", smtpkit.Options{Dialer: &net.Dialer{}, LocalAddr: "127.0.0.1"}, "Dialer", ""},
		{"Dialer with BindLocal", smtpkit.Options{Dialer: &net.Dialer{}, BindLocal: noBind}, "Dialer", ""},
		{"Proxy bad URL", smtpkit.Options{Proxy: "ftp://alice:" + secretProxyPassword + "@proxy.test:21"}, "Proxy", ""},
		{"TLS.Versions strict with ssl3", smtpkit.Options{TLS: smtpkit.TLSOptions{
			Versions: []uint16{smtpkit.VersionSSL30, tls.VersionTLS12}, StrictVersions: true}}, "TLS.Versions", "ssl3,1.2"},
		{"TLS.Versions only ssl3", smtpkit.Options{TLS: smtpkit.TLSOptions{
			Versions: []uint16{smtpkit.VersionSSL30}}}, "TLS.Versions", "ssl3"},
		{"TLS.Fingerprints[1] bad", smtpkit.Options{TLS: smtpkit.TLSOptions{
			Fingerprints: []string{goodPin, "not-hex"}}}, "TLS.Fingerprints[1]", "not-hex"},
		{"TLS.CertFile without KeyFile", smtpkit.Options{TLS: smtpkit.TLSOptions{CertFile: "client.pem"}}, "TLS.KeyFile", ""},
		{"TLS.KeyFile without CertFile", smtpkit.Options{TLS: smtpkit.TLSOptions{KeyFile: "client.key"}}, "TLS.CertFile", ""},
		{"TLS.Versions with TLSConfig.MinVersion", smtpkit.Options{
			TLS:       smtpkit.TLSOptions{Versions: []uint16{tls.VersionTLS13}},
			TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}, "TLS.Versions", ""},
		{"TLS.CAFile with TLSConfig.RootCAs", smtpkit.Options{
			TLS:       smtpkit.TLSOptions{CAFile: "ca.pem"},
			TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()}}, "TLS.CAFile", ""},
		{"TLS.CertFile with TLSConfig.Certificates", smtpkit.Options{
			TLS:       smtpkit.TLSOptions{CertFile: "client.pem", KeyFile: "client.key"},
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{{}}}}, "TLS.CertFile", ""},
		{"Auth without password or token", smtpkit.Options{Auth: &smtpkit.Auth{Username: "tim"}}, "Auth.Password", ""},
		{"Auth without user name", smtpkit.Options{Auth: &smtpkit.Auth{
			Password: secretPassword, Token: secretToken}}, "Auth.Username", ""},
		{"Auth.Mechanisms[0] unknown", smtpkit.Options{Auth: &smtpkit.Auth{
			Username: "tim", Password: secretPassword, Mechanisms: []string{"X-BOGUS", "PLAIN"}}}, "Auth.Mechanisms[0]", "X-BOGUS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if !errors.Is(err, smtpkit.ErrInvalidOptions) {
				t.Fatalf("Validate() = %v, want an error matching ErrInvalidOptions", err)
			}
			found := optionErrors(err)
			if len(found) != 1 {
				t.Fatalf("Validate() = %v: %d *OptionErrors, want exactly one, for %s", err, len(found), tt.field)
			}
			oe := found[0]
			if oe.Field != tt.field || oe.Value != tt.value {
				t.Errorf("Field, Value = %q, %q; want %q, %q", oe.Field, oe.Value, tt.field, tt.value)
			}
			if oe.Err == nil {
				t.Error("the *OptionError does not say what is wrong")
			}
			checkNoSecret(t, "Value", oe.Value)
			checkNoSecret(t, "Error()", err.Error())
			if !strings.Contains(err.Error(), "Options."+tt.field) {
				t.Errorf("Error() = %q does not name Options.%s", err, tt.field)
			}
		})
	}
}

// TestValidateStrictVersionsHint: refusing a version this runtime cannot
// speak because of StrictVersions suggests turning StrictVersions off, as
// data and as words of the caller's choice.
func TestValidateStrictVersionsHint(t *testing.T) {
	o := smtpkit.Options{TLS: smtpkit.TLSOptions{Versions: []uint16{smtpkit.VersionSSL30, tls.VersionTLS13}, StrictVersions: true}}
	found := optionErrors(o.Validate())
	if len(found) != 1 {
		t.Fatalf("found %v, want one *OptionError", found)
	}
	want := smtpkit.Hint{Field: "TLS.StrictVersions", Value: false}
	if !slices.Contains(found[0].Hints, want) {
		t.Errorf("Hints = %v, want %v", found[0].Hints, want)
	}
	got := found[0].Describe(func(f string) string { return "tls_" + strings.ToLower(strings.TrimPrefix(f, "TLS.")) },
		func(h smtpkit.Hint) string { return "--strict-versions=false" })
	if !strings.Contains(got, "tls_versions") || !strings.Contains(got, "--strict-versions=false") || strings.Contains(got, "Options.") {
		t.Errorf("Describe = %q, want the caller's words for the field and the hint", got)
	}
}

// TestValidateReportsEveryField: several bad settings are all reported.
func TestValidateReportsEveryField(t *testing.T) {
	o := smtpkit.Options{
		Security:       smtpkit.Security(42),
		CommandTimeout: -time.Second,
		LocalName:      "a b",
		LocalAddr:      "eth0",
		TLS:            smtpkit.TLSOptions{CertFile: "client.pem"},
		Auth:           &smtpkit.Auth{Password: secretPassword},
	}
	err := o.Validate()
	var fields []string
	for _, oe := range optionErrors(err) {
		fields = append(fields, oe.Field)
	}
	want := []string{"Security", "CommandTimeout", "LocalName", "LocalAddr", "TLS.KeyFile", "Auth.Username"}
	slices.Sort(fields)
	slices.Sort(want)
	if !slices.Equal(fields, want) {
		t.Errorf("fields reported %q, want %q (err: %v)", fields, want, err)
	}
	checkNoSecret(t, "Error()", err.Error())
}

// TestValidateAcceptsGoodOptions: the zero Options, a nil *Options and
// options with every field set well are valid.
func TestValidateAcceptsGoodOptions(t *testing.T) {
	if err := (&smtpkit.Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	if err := (*smtpkit.Options)(nil).Validate(); err != nil {
		t.Errorf("nil *Options: %v", err)
	}
	full := smtpkit.Options{
		Security:        smtpkit.SecurityStartTLS,
		TLSConfig:       &tls.Config{ServerName: "mail.example.com"},
		LocalName:       "client.example.com",
		ConnectTimeout:  time.Second,
		GreetingTimeout: time.Second,
		CommandTimeout:  time.Second,
		DataTimeout:     time.Second,
		Timeout:         time.Minute,
		TLS: smtpkit.TLSOptions{
			Versions:     []uint16{tls.VersionTLS12, tls.VersionTLS13},
			CAFile:       "ca.pem", // not read by Validate
			CertFile:     "client.pem",
			KeyFile:      "client.key",
			Fingerprints: []string{strings.Repeat("AB:", 31) + "AB"},
		},
		Auth:      &smtpkit.Auth{Username: "tim", Password: secretPassword, Mechanisms: []string{"scram-sha-256", "PLAIN"}},
		Proxy:     "socks5h://alice:" + secretProxyPassword + "@proxy.test:1080",
		LocalAddr: "[::1]:0",
	}
	if err := full.Validate(); err != nil {
		t.Errorf("every field set well: %v", err)
	}
	explicit := smtpkit.Options{Auth: &smtpkit.Auth{Mechanisms: []string{"EXTERNAL"}}}
	if err := explicit.Validate(); err != nil {
		t.Errorf("EXTERNAL needs no password: %v", err)
	}
}

// TestDialInvalidOptionsConnectsNowhere: Dial checks the options before it
// opens any connection.
func TestDialInvalidOptionsConnectsNowhere(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) { c.Send("220 hi"); c.WaitClose() })
	defer srv.Close()
	bad := []smtpkit.Options{
		{Security: smtpkit.SecurityNone, CommandTimeout: -time.Second, Dialer: mustNotDial{t}},
		{Security: smtpkit.SecurityNone, LocalName: "a b"},
		{Security: smtpkit.SecurityAuto, TLS: smtpkit.TLSOptions{Versions: []uint16{smtpkit.VersionSSL30}}},
		{Security: smtpkit.SecurityNone, Auth: &smtpkit.Auth{Username: "tim"}},
	}
	for _, o := range bad {
		c, err := smtpkit.Dial(testContext(t), srv.Addr, &o)
		if c != nil {
			c.Close()
			t.Fatalf("Dial with %+v succeeded", o)
		}
		if len(optionErrors(err)) == 0 || !errors.Is(err, smtpkit.ErrInvalidOptions) {
			t.Errorf("Dial = %v, want an *OptionError", err)
		}
		d := &smtpkit.Dialer{Options: o}
		if _, err := d.ValidateCredentials(testContext(t), srv.Addr); !errors.Is(err, smtpkit.ErrInvalidOptions) {
			t.Errorf("ValidateCredentials = %v, want ErrInvalidOptions", err)
		}
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("invalid options opened %d connections, want 0", n)
	}
}
