package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/outbox/postgres"
)

// BenchmarkWorkers sends the same messages, in one run, straight through
// Pool.SendAll and from the PostgreSQL outbox through 1, 2 and 4 workers,
// and reports each one's messages per second and its ratio to SendAll's.
// A worker is what a process would have: connections to the database of
// its own, a Store, a Pool of 4 connections and a Runner; the workers
// share the outbox as processes do (claims, leases, removals). Enqueueing
// is not counted.
//
//	go test -run '^$' -bench Workers -benchtime 3x
func BenchmarkWorkers(b *testing.B) {
	const count, size = 1000, 2 << 10
	srv := newServer(b, func(s *server) { s.discard = true })
	d := newDatabase(b)
	s := d.store(b, nil)
	ctx := testContext(b)
	workers := []int{1, 2, 4}
	var direct time.Duration
	through := make([]time.Duration, len(workers))
	for b.Loop() {
		pool := newPool(b, srv.Addr, testOptions())
		pool.MaxConns = 4
		mails := make([]smtpkit.Mail, count)
		for i := range mails {
			mails[i] = smtpkit.Mail{Envelope: *envelope(i), Message: bytes.NewReader(message(i, size))}
		}
		start := time.Now()
		for i, r := range pool.SendAll(ctx, mails, nil) {
			if r.Err != nil {
				b.Fatalf("message %d: %v", i, r.Err)
			}
		}
		direct += time.Since(start)

		for k, n := range workers {
			b.StopTimer()
			for from := 0; from < count; from += 100 {
				tx, err := d.db.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for i := from; i < from+100; i++ {
					if _, err := s.EnqueueTx(ctx, tx, envelope(i), bytes.NewReader(message(i, size))); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			runners := make([]*outbox.Runner, n)
			var closers []func()
			for w := range runners {
				db, err := pgxpool.New(ctx, d.url)
				if err != nil {
					b.Fatal(err)
				}
				ws, err := postgres.New(ctx, db, nil)
				if err != nil {
					b.Fatal(err)
				}
				wp := &smtpkit.Pool{Addr: srv.Addr, Dialer: &smtpkit.Dialer{Options: testOptions()}, MaxConns: 4}
				runners[w] = &outbox.Runner{Store: ws, Pool: wp}
				closers = append(closers, func() {
					cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					wp.Close(cctx)
					ws.Close()
					db.Close()
				})
			}
			before := srv.count()
			b.StartTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, r := range runners {
				wg.Go(func() {
					if err := r.Flush(ctx); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			through[k] += time.Since(start)
			b.StopTimer()
			for _, c := range closers {
				c()
			}
			if got := srv.count() - before; got != count {
				b.Fatalf("%d workers delivered %d messages, want %d", n, got, count)
			}
			b.StartTimer()
		}
	}
	total := float64(b.N * count)
	b.ReportMetric(total/direct.Seconds(), "direct-msgs/s")
	for k, n := range workers {
		b.ReportMetric(total/through[k].Seconds(), fmt.Sprintf("w%d-msgs/s", n))
		b.ReportMetric(direct.Seconds()/through[k].Seconds(), fmt.Sprintf("w%d/direct", n))
	}
}
