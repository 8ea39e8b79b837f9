package message_test

import (
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/message"
)

// pattern is a reader of n bytes that are not all alike, made as it is read.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 31)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// BenchmarkWriteTo1GiB writes a message with a 1 GiB attachment read from
// a reader: B/op (and the peak-heap-MiB metric) show what the message
// holds in memory, MB/s how fast it is encoded.
func BenchmarkWriteTo1GiB(b *testing.B) {
	const size = 1 << 30
	b.SetBytes(size)
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		m := &message.Message{From: "a@example.com", To: []string{"b@example.org"}, Text: "the file",
			Attachments: []*message.Attachment{message.ReaderAttachment("big.bin", &pattern{n: size})}}
		done := make(chan struct{})
		sampled := make(chan uint64)
		go func() { // samples the heap while the message is written
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			var ms runtime.MemStats
			var high uint64
			for {
				runtime.ReadMemStats(&ms)
				high = max(high, ms.HeapInuse)
				select {
				case <-done:
					sampled <- high
					return
				case <-tick.C:
				}
			}
		}()
		if _, err := m.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		close(done)
		peak = max(peak, <-sampled)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
