package outbox_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/smtptest"
)

// Enqueue a message, then deliver what is due, as "sendmail -q" does.
func Example() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	spool, err := outbox.OpenSpool(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer spool.Close()
	_, err = spool.Enqueue(ctx, &smtpkit.Envelope{From: "me@example.com", To: []string{"you@example.net"}},
		strings.NewReader("Subject: hello\r\n\r\nQueued first, sent when the server takes it.\r\n"))
	if err != nil {
		log.Fatal(err) // nothing was queued: the error says why
	}
	// From here on the message survives a crash.

	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer()}
	defer pool.Close(ctx)
	r := &outbox.Runner{Store: spool, Pool: pool}
	if err := r.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(srv.Messages()), "delivered;", r.Stats().Deferred, "deferred")
	// Output: 1 delivered; 0 deferred
}

// A Runner in the background delivers what is enqueued as it comes, and
// reports each entry that leaves the queue.
func ExampleRunner_Run() {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)

	spool, err := outbox.OpenSpool(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer spool.Close()
	pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer()}
	defer pool.Close(context.Background())
	done := make(chan outbox.Entry)
	r := &outbox.Runner{
		Store:  spool,
		Pool:   pool,
		MaxAge: 24 * time.Hour,
		Report: func(e outbox.Entry) { done <- e },
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- r.Run(ctx) }()

	spool.Enqueue(ctx, &smtpkit.Envelope{From: "me@example.com", To: []string{"you@example.net"}},
		strings.NewReader("Subject: alert\r\n\r\nDisk almost full.\r\n"))
	e := <-done
	for _, rc := range e.Recipients {
		fmt.Println(rc.Address, rc.Status, rc.Reply.Code)
	}
	stop()
	<-stopped
	// Output: you@example.net delivered 250
}

// List shows what waits, and why.
func ExampleSpool_List() {
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	spool, err := outbox.OpenSpool(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer spool.Close()
	spool.Enqueue(ctx, &smtpkit.Envelope{From: "me@example.com", To: []string{"a@example.net", "b@example.net"}},
		strings.NewReader("Subject: one\r\n\r\n1\r\n"))
	entries, err := spool.List(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Size, "bytes from", e.Envelope.From, "to", e.Pending(), "attempts:", e.Attempts)
	}
	// Output: 19 bytes from me@example.com to [a@example.net b@example.net] attempts: 0
}
