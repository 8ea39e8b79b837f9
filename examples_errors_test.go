package smtpkit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// Validate reports every invalid setting at once, each an *OptionError that
// names its field; Dial calls it before anything is sent.
func ExampleOptions_Validate() {
	opts := &smtpkit.Options{
		ConnectTimeout: -time.Second,
		LocalAddr:      "mail.example.com",
		TLS:            smtpkit.TLSOptions{CertFile: "client.pem"},
	}
	err := opts.Validate()
	fmt.Println(errors.Is(err, smtpkit.ErrInvalidOptions))
	fmt.Println(err) // one line per invalid setting

	var list interface{ Unwrap() []error } // errors.Join's error, when there are several
	if errors.As(err, &list) {
		for _, err := range list.Unwrap() {
			var oe *smtpkit.OptionError
			if errors.As(err, &oe) {
				fmt.Printf("field %s, value %q\n", oe.Field, oe.Value)
			}
		}
	}
	// Output:
	// true
	// smtpkit: Options.ConnectTimeout "-1s": a time limit cannot be negative: use zero for the default
	// smtpkit: Options.LocalAddr "mail.example.com": "mail.example.com" is not an IP address or IP:port, such as 192.0.2.10 or [2001:db8::10]:0 (host names are not accepted)
	// smtpkit: Options.TLS.KeyFile: a client certificate is set without its private key: set both, or neither
	// field ConnectTimeout, value "-1s"
	// field LocalAddr, value "mail.example.com"
	// field TLS.KeyFile, value ""
}

// Describe words an error's hints in a front end's own terms: here the
// flags of a command line instead of Go fields.
func ExampleError_Describe() {
	srv := smtptest.NewServer(smtptest.Plain) // offers no STARTTLS
	defer srv.Close()

	ctx := context.Background()
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", srv.Addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	// NewClient names the server as told, so the error shows no test port.
	_, err = smtpkit.NewClient(ctx, nc, "mail.example.com:587", &smtpkit.Options{Security: smtpkit.SecurityStartTLS})

	var e *smtpkit.Error
	if !errors.As(err, &e) {
		fmt.Println(err)
		return
	}
	asFlag := func(h smtpkit.Hint) string {
		return "--" + strings.ToLower(h.Field) + " " + fmt.Sprint(h.Value)
	}
	fmt.Println(e.Phase, errors.Is(err, smtpkit.ErrTLSNotOffered))
	fmt.Println(e.Describe(asFlag))
	fmt.Println(e.Hints[0].Field, e.Hints[0].Value)
	// Output:
	// starttls true
	// smtp starttls mail.example.com:587: the server does not offer STARTTLS, and TLS is required: nothing was sent in plaintext (try --security implicit-tls, or --security starttls-if-offered)
	// Security implicit-tls
}
