package smtpkit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// Login on an open Client picks the strongest mechanism both sides allow;
// errors.Is tells the outcomes apart.
func ExampleClient_Login() {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	srv.Users = map[string]string{"alice": "s3cret"}
	srv.AuthMechanisms = []string{"PLAIN", "LOGIN", "SCRAM-SHA-256"}
	srv.Start()
	defer srv.Close()

	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, srv.ClientOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)

	fmt.Println(c.Capabilities().AuthMechanisms())
	err = c.Login(ctx, &smtpkit.Auth{Username: "alice", Password: "s3cret", Mechanisms: []string{"PLAIN", "LOGIN"}})
	fmt.Println(c.AuthMechanism(), err)
	// Output:
	// [PLAIN LOGIN SCRAM-SHA-256]
	// PLAIN <nil>
}

// Send streams one message and says what became of each recipient.
func ExampleClient_Send() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, srv.Addr, srv.ClientOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)

	env := &smtpkit.Envelope{From: "app@example.com", To: []string{"alice@example.com", "bob@example.com"}}
	msg := strings.NewReader("From: app@example.com\r\nSubject: Report\r\n\r\nAll systems go.\r\n")
	res, err := c.Send(ctx, env, msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Accepted(), len(res.Refused()), res.Reply.Code)
	// Output: [alice@example.com bob@example.com] 0 250
}

// SendBatch sends several messages over one connection, pipelining whole
// transactions when the server allows; each message succeeds or fails alone.
func ExampleClient_SendBatch() {
	srv := smtptest.NewServer(smtptest.ImplicitTLS)
	defer srv.Close()

	ctx := context.Background()
	c, err := srv.Dialer().Dial(ctx, srv.Addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)

	var mails []smtpkit.Mail
	for _, to := range []string{"alice@example.com", "bob\r\n@example.com", "carol@example.com"} {
		mails = append(mails, smtpkit.Mail{
			Envelope: smtpkit.Envelope{From: "news@example.com", To: []string{to}},
			Message:  strings.NewReader("Subject: News\r\n\r\nThis week...\r\n"),
		})
	}
	for i, r := range c.SendBatch(ctx, mails) {
		if r.Err != nil {
			fmt.Println(i, "failed:", errors.Is(r.Err, smtpkit.ErrInvalidArgument))
			continue
		}
		fmt.Println(i, r.Result.Accepted(), r.Result.Reply.Code)
	}
	fmt.Println(len(srv.Messages()), "delivered")
	// Output:
	// 0 [alice@example.com] 250
	// 1 failed: true
	// 2 [carol@example.com] 250
	// 2 delivered
}

// A Pool shares a few connections among goroutines; its Dialer holds the
// policy, and Close says QUIT on each.
func ExamplePool() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer(), MaxConns: 2}
	ctx := context.Background()
	defer pool.Close(ctx)

	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			env := &smtpkit.Envelope{From: "app@example.com", To: []string{fmt.Sprintf("user%d@example.com", i)}}
			if _, err := pool.Send(ctx, env, strings.NewReader("Subject: Hi\r\n\r\nHi.\r\n")); err != nil {
				fmt.Println(err)
			}
		})
	}
	wg.Wait()
	fmt.Println(len(srv.Messages()), "messages; at most 2 connections:", srv.Connections() <= 2)
	// Output: 5 messages; at most 2 connections: true
}

// SendAll spreads a bulk send over the pool's connections and returns one
// result per mail, in order; progress hears of each as soon as it is known.
func ExamplePool_SendAll() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()

	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer(), MaxConns: 3}
	ctx := context.Background()
	defer pool.Close(ctx)

	mails := make([]smtpkit.Mail, 100)
	for i := range mails {
		mails[i] = smtpkit.Mail{
			Envelope: smtpkit.Envelope{From: "news@example.com", To: []string{fmt.Sprintf("reader%d@example.com", i)}},
			Message:  strings.NewReader("Subject: News\r\n\r\nThis week...\r\n"), // rewindable: resent if a connection breaks
		}
	}
	var mu sync.Mutex
	done := 0
	results := pool.SendAll(ctx, mails, func(i int, r smtpkit.BatchResult) {
		mu.Lock() // progress is called from several goroutines
		done++
		mu.Unlock()
	})

	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	fmt.Println(done, "reported,", failed, "failed,", len(srv.Messages()), "delivered")
	fmt.Println(results[42].Result.Accepted())
	// Output:
	// 100 reported, 0 failed, 100 delivered
	// [reader42@example.com]
}
