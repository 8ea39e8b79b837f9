package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// warmup messages are sent on the connection before the clock starts.
const warmup = 10

// cell is the measurement of one client at one round-trip time, through
// the relay or straight to the sink.
type cell struct {
	client  client
	rtt     time.Duration
	direct  bool // no relay: rtt is 0 and stats is empty
	n       int
	elapsed time.Duration
	stats   relayStats // during the measured messages only
	io      ioStats    // the client's calls, during the measured messages only
}

func (c cell) rate() float64 { return float64(c.n) / c.elapsed.Seconds() }

func (c cell) roundsPerMsg() float64 { return float64(c.stats.Rounds) / float64(c.n) }

func (c cell) turnsPerMsg() float64 { return float64(c.stats.Turns) / float64(c.n) }

func (c cell) writesPerMsg() float64 { return float64(c.io.Writes) / float64(c.n) }

func (c cell) readsPerMsg() float64 { return float64(c.io.Reads) / float64(c.n) }

// rttsPerMsg is the measured time in round-trip times, per message: a
// clock-based cross-check of the round-trip count (it also holds the time
// the client and server spend working).
func (c cell) rttsPerMsg() float64 {
	return c.elapsed.Seconds() / c.rtt.Seconds() / float64(c.n)
}

// path names how the client reached the sink.
func (c cell) path() string {
	if c.direct {
		return "direct"
	}
	return "relay"
}

// sinks are the sinks of the throughput table: the plain one, and one
// whose EHLO reply has no CHUNKING for the PIPELINING-only rows on a
// direct connection (through the relay, the relay strips it).
type sinks struct {
	plain, stripped *sink
}

func startSinks() (*sinks, error) {
	plain, err := startSink(sinkConfig{})
	if err != nil {
		return nil, err
	}
	stripped, err := startSink(sinkConfig{stripChunking: true})
	if err != nil {
		plain.Close()
		return nil, err
	}
	return &sinks{plain: plain, stripped: stripped}, nil
}

func (s *sinks) Close() error {
	return errors.Join(s.plain.Close(), s.stripped.Close())
}

// runCell connects c to the sink, through a new relay that adds rtt
// unless direct, sends the warm-up messages, then measures n messages:
// the clock and the counters (the relay's, and the client's write and
// read calls) are read just before the first and just after the last, so
// connection set-up and QUIT are outside the measurement.
func runCell(ctx context.Context, ss *sinks, c client, rtt time.Duration, direct bool, n int, msg []byte) (cell, error) {
	s := ss.plain
	addr := s.Addr
	var r *relay
	switch {
	case direct && c.pipeliningOnly:
		s = ss.stripped
		addr = s.Addr
	case !direct:
		var err error
		if r, err = newRelay(s.Addr, rtt, c.pipeliningOnly); err != nil {
			return cell{}, err
		}
		defer r.Close()
		addr = r.Addr()
	}
	stats := func() relayStats {
		if r == nil {
			return relayStats{}
		}
		return r.Stats()
	}
	d := &countingDialer{}
	sess, err := c.dial(ctx, d, addr, msg)
	if err != nil {
		return cell{}, fmt.Errorf("connecting: %w", err)
	}
	if err := sess.send(ctx, warmup); err != nil {
		return cell{}, fmt.Errorf("warm-up: %w", err)
	}
	got0 := s.Messages()
	st0 := stats()
	io0 := d.Stats()
	t0 := time.Now()
	if err := sess.send(ctx, n); err != nil {
		return cell{}, err
	}
	elapsed := time.Since(t0)
	io1 := d.Stats()
	st1 := stats()
	got := s.Messages() - got0
	if err := sess.close(ctx); err != nil {
		return cell{}, fmt.Errorf("QUIT: %w", err)
	}
	if got != int64(n) {
		return cell{}, fmt.Errorf("the sink received %d messages, want %d", got, n)
	}
	return cell{client: c, rtt: rtt, direct: direct, n: n, elapsed: elapsed, stats: st1.sub(st0), io: io1.sub(io0)}, nil
}

func fmtRTT(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

// printTable prints the cells as one Markdown table; the ratio is to
// net/smtp's rate at the same round-trip time on the same path.
func printTable(w io.Writer, rows []cell) {
	type group struct {
		rtt    time.Duration
		direct bool
	}
	base := map[group]float64{}
	for _, r := range rows {
		if r.client.key == baselineKey {
			base[group{r.rtt, r.direct}] = r.rate()
		}
	}
	fmt.Fprintln(w, "| RTT | path | client | messages | messages/s | round trips/message | direction turns/message | writes/message | reads/message | time/(messages×RTT) | messages/s vs net/smtp |")
	fmt.Fprintln(w, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		rounds, turns := "–", "–"
		if !r.direct {
			rounds = fmt.Sprintf("%.2f", r.roundsPerMsg())
			turns = fmt.Sprintf("%.2f", r.turnsPerMsg())
		}
		clock := "–"
		if r.rtt > 0 {
			clock = fmt.Sprintf("%.2f", r.rttsPerMsg())
		}
		ratio := "–"
		if b, ok := base[group{r.rtt, r.direct}]; ok {
			ratio = fmt.Sprintf("%.2f×", r.rate()/b)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %.0f | %s | %s | %.2f | %.2f | %s | %s |\n",
			fmtRTT(r.rtt), r.path(), r.client.label, r.n, r.rate(), rounds, turns,
			r.writesPerMsg(), r.readsPerMsg(), clock, ratio)
	}
}
