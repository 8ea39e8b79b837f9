package smtpkit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// A Dialer holds one policy and what its connections share; goroutines use
// one Dialer at once. With Security left to TLS-auto, the first connection
// finds out how the server speaks TLS and Modes remembers it for the others.
func ExampleDialer() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	d := &smtpkit.Dialer{
		Options: smtpkit.Options{
			Security:  smtpkit.SecurityTLSAuto, // the zero value
			TLSConfig: smtptest.ClientTLSConfig(),
		},
		Modes: smtpkit.NewMemoryModeCache(), // or a FileModeCache, kept across runs
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			c, err := d.Dial(ctx, srv.Addr)
			if err != nil {
				fmt.Println(err)
				return
			}
			defer c.Quit(ctx)
			to := fmt.Sprintf("user%d@example.com", i)
			if _, err := c.Send(ctx, &smtpkit.Envelope{From: "app@example.com", To: []string{to}},
				strings.NewReader("Subject: hello\r\n\r\nHello.\r\n")); err != nil {
				fmt.Println(err)
			}
		})
	}
	wg.Wait()

	key, _ := d.ModeKey(srv.Addr)
	fmt.Println(d.Modes.Get(key))
	fmt.Println(len(srv.Messages()), "messages delivered")
	// Output:
	// starttls true
	// 3 messages delivered
}

// Dial probes the server the first time: on a port with no convention it
// waits for a plaintext greeting and tries TLS on a second connection at
// once. A later Dial of the same Dialer uses the mode found, without a probe.
func ExampleDialer_Dial() {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()

	d := &smtpkit.Dialer{Options: smtpkit.Options{TLSConfig: smtptest.ClientTLSConfig()}}
	d.Options.Trace = func(e smtpkit.Event) {
		switch e := e.(type) {
		case smtpkit.ConnectStart:
			fmt.Printf("connection %d: connecting (%q)\n", e.ID, e.Attempt)
		case smtpkit.SecurityChosen:
			fmt.Printf("connection %d: %s (%s)\n", e.ID, e.Security, e.Reason)
		}
	}

	ctx := context.Background()
	for range 2 {
		c, err := d.Dial(ctx, srv.Addr)
		if err != nil {
			fmt.Println(err)
			return
		}
		c.Quit(ctx)
	}
	// Output:
	// connection 1: connecting ("")
	// connection 2: connecting ("implicit-tls")
	// connection 2: implicit-tls (tls-handshake)
	// connection 3: connecting ("")
	// connection 3: implicit-tls (remembered)
}

// NewClient sets up a session on a connection opened some other way; the
// address names the server for the certificate check and in errors.
func ExampleNewClient() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	ctx := context.Background()
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", srv.Addr) // or a pipe, a socket handed over...
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := smtpkit.NewClient(ctx, nc, "localhost:587", &smtpkit.Options{
		Security:  smtpkit.SecurityStartTLS,
		TLSConfig: smtptest.ClientTLSConfig(),
	})
	if err != nil {
		fmt.Println(err) // nc is closed already
		return
	}
	defer c.Quit(ctx)
	fmt.Println(c.Addr(), c.Security())
	// Output: localhost:587 starttls
}

// ValidateCredentials checks a login without sending mail, and tells a
// wrong password from a server that cannot be reached.
func ExampleValidateCredentials() {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	srv.Users = map[string]string{"alice": "correct horse"}
	srv.AuthMechanisms = []string{"SCRAM-SHA-256", "PLAIN"}
	srv.Start()
	defer srv.Close()

	ctx := context.Background()
	for _, password := range []string{"correct horse", "battery staple"} {
		opts := srv.ClientOptions()
		opts.Auth = &smtpkit.Auth{Username: "alice", Password: password}
		mech, err := smtpkit.ValidateCredentials(ctx, srv.Addr, opts)
		switch {
		case err == nil:
			fmt.Println("accepted with", mech)
		case errors.Is(err, smtpkit.ErrAuthFailed):
			fmt.Println("wrong user name or password")
		default:
			fmt.Println("could not check:", err)
		}
	}
	// Output:
	// accepted with SCRAM-SHA-256
	// wrong user name or password
}

// A Dialer's ValidateCredentials checks the login its Options hold, over
// the connections it would send mail with.
func ExampleDialer_ValidateCredentials() {
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.Users = map[string]string{"alice": "s3cret"}
	srv.Config.AllowInsecureAuth = true // this server takes a password without TLS
	srv.Start()
	defer srv.Close()

	ctx := context.Background()
	d := srv.Dialer()
	d.Options.Auth = &smtpkit.Auth{Username: "alice", Password: "s3cret"}
	_, err := d.ValidateCredentials(ctx, srv.Addr)
	var e *smtpkit.Error
	if errors.As(err, &e) {
		// The password would travel in the clear: refused before it is sent.
		fmt.Println(e.Phase, errors.Is(err, smtpkit.ErrCleartextAuth), e.Hints)
	}

	d = srv.Dialer()
	d.Options.Auth = &smtpkit.Auth{Username: "alice", Password: "s3cret", AllowCleartext: true}
	mech, err := d.ValidateCredentials(ctx, srv.Addr)
	fmt.Println(mech, err)
	// Output:
	// auth true [Options.Auth.AllowCleartext = true]
	// PLAIN <nil>
}
