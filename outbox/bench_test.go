package outbox_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
)

// BenchmarkEnqueue measures durable enqueues: each one writes, syncs and
// renames the entry and syncs the queue directory before it returns.
func BenchmarkEnqueue(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s := openSpool(b)
			msg := message(1, size)
			env := &smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}}
			ctx := testContext(b)
			b.SetBytes(int64(len(msg)))
			start := time.Now()
			for b.Loop() {
				if _, err := s.Enqueue(ctx, env, bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "enqueues/s")
		})
	}
}

// BenchmarkDelivery sends the same messages, in one run, straight through
// Pool.SendAll and from the spool through a Runner (claims, reads the
// files, records each outcome durably), and reports the ratio of their
// throughputs. Enqueueing is not counted: BenchmarkEnqueue measures it.
func BenchmarkDelivery(b *testing.B) {
	const count, size = 256, 2 << 10
	rec := &recorder{discard: true}
	srv := newServer(b, rec)
	ctx := testContext(b)
	var direct, spooled time.Duration
	for b.Loop() {
		pool := newPool(b, srv.Addr)
		pool.MaxConns = 4
		mails := make([]smtpkit.Mail, count)
		for i := range mails {
			mails[i] = smtpkit.Mail{Envelope: smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}},
				Message: bytes.NewReader(message(i, size))}
		}
		start := time.Now()
		for i, r := range pool.SendAll(ctx, mails, nil) {
			if r.Err != nil {
				b.Fatalf("message %d: %v", i, r.Err)
			}
		}
		direct += time.Since(start)

		b.StopTimer()
		s, err := outbox.OpenSpool(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		for i := range count {
			enqueue(b, s, i, size, "b@y.test")
		}
		b.StartTimer()
		r := &outbox.Runner{Store: s, Pool: pool}
		start = time.Now()
		if err := r.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		spooled += time.Since(start)
		if st := r.Stats(); st.Delivered != count {
			b.Fatalf("Stats %+v, want %d delivered", st, count)
		}
		s.Close()
	}
	n := float64(b.N * count)
	b.ReportMetric(n/direct.Seconds(), "direct-msgs/s")
	b.ReportMetric(n/spooled.Seconds(), "spool-msgs/s")
	b.ReportMetric(direct.Seconds()/spooled.Seconds(), "spool/direct")
}
