package smtptest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/proxy"
	"github.com/smtpkit/smtpkit/smtptest"
)

// A Plain server speaks no TLS; ClientOptions reaches it with SecurityNone.
func ExampleNewServer_plain() {
	srv := smtptest.NewServer(smtptest.Plain)
	defer srv.Close()

	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, srv.ClientOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)
	fmt.Println(srv.ClientOptions().Security, c.Security(), c.Capabilities().StartTLS())
	// Output: none none false
}

// A StartTLS server greets in plaintext and offers STARTTLS; its
// certificate is trusted by ClientTLSConfig.
func ExampleNewServer_startTLS() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, &smtpkit.Options{
		Security:  smtpkit.SecurityStartTLS,
		TLSConfig: smtptest.ClientTLSConfig(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)
	_, tlsUp := c.TLSConnectionState()
	fmt.Println(c.Security(), tlsUp)
	// Output: starttls true
}

// An ImplicitTLS server speaks TLS from the first byte; Dialer returns a
// Dialer set up to reach it, as httptest's Server.Client does for HTTP.
func ExampleNewServer_implicitTLS() {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()

	ctx := context.Background()
	c, err := srv.Dialer().Dial(ctx, srv.Addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)
	st, _ := c.TLSConnectionState()
	fmt.Println(c.Security(), st.PeerCertificates[0].Equal(smtptest.Certificate()))
	// Output: implicit-tls true
}

// Messages shows what the server received: the envelope, the data as sent,
// who logged in and whether TLS protected it.
func ExampleServer_Messages() {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	srv.Users = map[string]string{"alice": "s3cret"} // offers PLAIN and LOGIN
	srv.Start()
	defer srv.Close()

	ctx := context.Background()
	opts := srv.ClientOptions()
	opts.Auth = &smtpkit.Auth{Username: "alice", Password: "s3cret"}
	c, err := smtpkit.Dial(ctx, srv.Addr, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	env := &smtpkit.Envelope{From: "alice@example.com", To: []string{"bob@example.com", "carol@example.com"}}
	if _, err := c.Send(ctx, env, strings.NewReader("Subject: Lunch\n\nNoon?\n")); err != nil {
		fmt.Println(err)
	}
	c.Quit(ctx)

	for _, m := range srv.Messages() {
		fmt.Println(m.From, m.To, m.User, m.Mechanism, m.TLS)
		fmt.Printf("%q\n", m.Data) // line endings normalised to CRLF
	}
	// Output:
	// alice@example.com [bob@example.com carol@example.com] alice PLAIN true
	// "Subject: Lunch\r\n\r\nNoon?\r\n"
}

// A RawServer plays a script: here a server that refuses one of two
// recipients, and what the client made of it.
func ExampleNewRawServer() {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		c.Send("220 mx.example.com ESMTP")
		c.Expect("EHLO")
		c.Send("250-mx.example.com", "250 ENHANCEDSTATUSCODES") // no PIPELINING: one command at a time
		c.Expect("MAIL FROM:")
		c.Send("250 2.1.0 Ok")
		c.Expect("RCPT TO:")
		c.Send("250 2.1.5 Ok")
		c.Expect("RCPT TO:")
		c.Send("550 5.1.1 No such user")
		c.Expect("DATA")
		c.Send("354 End data with <CR><LF>.<CR><LF>")
		for { // the message, up to the lone dot
			if line, err := c.ReadLine(); err != nil || line == "." {
				break
			}
		}
		c.Send("250 2.0.0 Queued as 4F2A1")
		c.Expect("QUIT")
		c.Send("221 2.0.0 Bye")
	})
	defer srv.Close()

	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, LocalName: "client.example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	env := &smtpkit.Envelope{From: "app@example.com", To: []string{"alice@example.com", "nobody@example.com"}}
	res, err := c.Send(ctx, env, strings.NewReader("Subject: Hi\r\n\r\nHi.\r\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Quit(ctx)

	fmt.Println("accepted:", res.Accepted())
	for _, r := range res.Refused() {
		fmt.Println("refused:", r.Address, r.Reply.Code, r.Reply.Enhanced)
	}
	fmt.Println("final reply:", res.Reply)
	fmt.Println(strings.Join(srv.Received()[:4], "\n"))
	// Output:
	// accepted: [alice@example.com]
	// refused: nobody@example.com 550 [5 1 1]
	// final reply: 250 2.0.0 Queued as 4F2A1
	// EHLO client.example.com
	// MAIL FROM:<app@example.com>
	// RCPT TO:<alice@example.com>
	// RCPT TO:<nobody@example.com>
}

// A Blackhole never completes the TCP handshake, so a client meets its
// connect timeout without leaving the machine.
func ExampleNewBlackhole() {
	bh, err := smtptest.NewBlackhole()
	if err != nil {
		fmt.Println(err) // this system cannot have one
		return
	}
	defer bh.Close()

	_, err = smtpkit.Dial(context.Background(), bh.Addr, &smtpkit.Options{
		Security:       smtpkit.SecurityNone,
		ConnectTimeout: 100 * time.Millisecond,
	})
	var e *smtpkit.Error
	if errors.As(err, &e) {
		fmt.Println(e.Phase, errors.Is(err, smtpkit.ErrConnectTimeout))
	}
	// Output: connect true
}

// A SOCKS5 proxy relays to the server; Options.Proxy takes its URL, which
// holds the credentials it asks for.
func ExampleNewSOCKS5Proxy() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	p := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{Username: "alice", Password: "s3cret"})
	defer p.Close()

	ctx := context.Background()
	opts := srv.ClientOptions()
	opts.Proxy = p.URL() // socks5://alice:s3cret@127.0.0.1:port
	c, err := smtpkit.Dial(ctx, srv.Addr, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Quit(ctx)

	req := p.Requests()[0]
	fmt.Println(c.Security(), req.Username, req.Granted, req.Target == srv.Addr)
	// Output: starttls alice true true
}

// An HTTP proxy serves CONNECT; one that refuses is an error of the connect
// phase that errors.Is matches with package proxy's sentinels.
func ExampleNewHTTPProxy() {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()
	p := smtptest.NewHTTPProxy(smtptest.ProxyConfig{})
	defer p.Close()
	strict := smtptest.NewHTTPProxy(smtptest.ProxyConfig{Refuse: true})
	defer strict.Close()

	ctx := context.Background()
	opts := srv.ClientOptions()
	opts.Proxy = p.URL() // http://127.0.0.1:port
	c, err := smtpkit.Dial(ctx, srv.Addr, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Quit(ctx)
	fmt.Println(c.Security(), p.Connections())

	opts.Proxy = strict.URL()
	_, err = smtpkit.Dial(ctx, srv.Addr, opts)
	var e *smtpkit.Error
	if errors.As(err, &e) {
		fmt.Println(e.Phase, errors.Is(err, proxy.ErrRefused))
	}
	// Output:
	// implicit-tls 1
	// connect true
}
