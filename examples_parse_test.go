package smtpkit_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// ParseTLSVersions reads a list of versions as people write them, for
// TLSOptions.Versions.
func ExampleParseTLSVersions() {
	versions, err := smtpkit.ParseTLSVersions("TLS 1.2, tlsv1.2")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(versions), smtpkit.TLSVersionName(versions[0]))

	srv := smtptest.NewServer(smtptest.ImplicitTLS) // would speak TLS 1.3
	defer srv.Close()
	opts := srv.ClientOptions()
	opts.TLS.Versions = versions
	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	st, _ := c.TLSConnectionState()
	fmt.Println(tls.VersionName(st.Version))
	c.Quit(ctx)

	_, err = smtpkit.ParseTLSVersions("1.2,1.4")
	fmt.Println(err)
	// Output:
	// 1 1.2
	// TLS 1.2
	// "1.4" is not a TLS version: want 1.0, 1.1, 1.2, 1.3 or ssl3
}

// ParseLocalAddr reads the address to connect from, with or without
// brackets and port, for Options.LocalAddr.
func ExampleParseLocalAddr() {
	for _, s := range []string{"192.0.2.10", "[::1]", "[2001:db8::10]:2500", "mail.example.com"} {
		ap, err := smtpkit.ParseLocalAddr(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(ap.Addr(), ap.Port())
	}
	// Output:
	// 192.0.2.10 0
	// ::1 0
	// 2001:db8::10 2500
	// "mail.example.com" is not an IP address or IP:port, such as 192.0.2.10 or [2001:db8::10]:0 (host names are not accepted)
}

// ParseFingerprint reads a SHA-256 pin as openssl prints it; TLS.Fingerprints
// takes the same text and trusts exactly that certificate.
func ExampleParseFingerprint() {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()

	// What `openssl x509 -noout -fingerprint -sha256` prints for the server's certificate.
	sum := sha256.Sum256(smtptest.Certificate().Raw)
	printed := strings.ToUpper(hex.EncodeToString(sum[:1]))
	for _, b := range sum[1:] {
		printed += fmt.Sprintf(":%02X", b)
	}

	pin, err := smtpkit.ParseFingerprint(printed)
	fmt.Println(pin == sum, err)

	// The pin alone makes the self-signed certificate trusted: no TLSConfig.
	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, &smtpkit.Options{
		Security: smtpkit.SecurityImplicitTLS,
		TLS:      smtpkit.TLSOptions{Fingerprints: []string{printed}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Security())
	c.Quit(ctx)

	_, err = smtpkit.ParseFingerprint("da39a3ee5e6b4b0d3255bfef95601890afd80709") // SHA-1
	fmt.Println(err)
	// Output:
	// true <nil>
	// implicit-tls
	// this is a SHA-1 fingerprint; only SHA-256 fingerprints are supported: get one with `openssl s_client -connect HOST:PORT -starttls smtp | openssl x509 -noout -fingerprint -sha256`
}
