package smtpkit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// Dial finds out how the server wants to be reached (here implicit TLS on a
// port with no convention) and reports what it found.
func ExampleDial() {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()

	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, &smtpkit.Options{
		Security:  smtpkit.SecurityTLSAuto, // the zero value: TLS, never plaintext
		TLSConfig: smtptest.ClientTLSConfig(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)
	size, _ := c.Capabilities().Size()
	fmt.Println(c.Security(), c.Capabilities().Pipelining(), size)
	// Output: implicit-tls true 10485760
}

// An *Error says which phase failed, and errors.Is matches the policy that refused.
func ExampleError() {
	srv := smtptest.NewServer(smtptest.Plain) // offers no STARTTLS
	defer srv.Close()

	_, err := smtpkit.Dial(context.Background(), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityStartTLS})
	var e *smtpkit.Error
	if errors.As(err, &e) {
		fmt.Println(e.Phase, errors.Is(err, smtpkit.ErrTLSNotOffered))
	}
	// Output: starttls true
}

// ClientOptions gives options that reach an smtptest server in its own mode.
func ExampleClient_Capabilities() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := smtpkit.Dial(ctx, srv.Addr, srv.ClientOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)
	caps := c.Capabilities()
	fmt.Println(caps.StartTLS(), caps.Chunking(), caps.SMTPUTF8())
	// Output: false true true
}
