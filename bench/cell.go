package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// warmup messages are sent on the connection before the clock starts.
const warmup = 10

// cell is the measurement of one client at one round-trip time.
type cell struct {
	client  client
	rtt     time.Duration
	n       int
	elapsed time.Duration
	stats   relayStats // during the measured messages only
}

func (c cell) rate() float64 { return float64(c.n) / c.elapsed.Seconds() }

func (c cell) roundsPerMsg() float64 { return float64(c.stats.Rounds) / float64(c.n) }

func (c cell) turnsPerMsg() float64 { return float64(c.stats.Turns) / float64(c.n) }

// rttsPerMsg is the measured time in round-trip times, per message: a
// clock-based cross-check of the round-trip count (it also holds the time
// the client and server spend working).
func (c cell) rttsPerMsg() float64 {
	return c.elapsed.Seconds() / c.rtt.Seconds() / float64(c.n)
}

// runCell connects c through a new relay to the sink, sends the warm-up
// messages, then measures n messages: the clock and the relay's counters
// are read just before the first and just after the last, so connection
// set-up and QUIT are outside the measurement.
func runCell(ctx context.Context, s *sink, c client, rtt time.Duration, n int, msg []byte) (cell, error) {
	r, err := newRelay(s.Addr, rtt, c.pipeliningOnly)
	if err != nil {
		return cell{}, err
	}
	defer r.Close()
	sess, err := c.dial(ctx, r.Addr(), msg)
	if err != nil {
		return cell{}, fmt.Errorf("connecting: %w", err)
	}
	if err := sess.send(ctx, warmup); err != nil {
		return cell{}, fmt.Errorf("warm-up: %w", err)
	}
	got0 := s.Messages()
	st0 := r.Stats()
	t0 := time.Now()
	if err := sess.send(ctx, n); err != nil {
		return cell{}, err
	}
	elapsed := time.Since(t0)
	st1 := r.Stats()
	got := s.Messages() - got0
	if err := sess.close(ctx); err != nil {
		return cell{}, fmt.Errorf("QUIT: %w", err)
	}
	if got != int64(n) {
		return cell{}, fmt.Errorf("the sink received %d messages, want %d", got, n)
	}
	return cell{client: c, rtt: rtt, n: n, elapsed: elapsed, stats: st1.sub(st0)}, nil
}

func fmtRTT(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

// printTable prints the cells as one Markdown table; the ratio is to
// net/smtp's rate at the same round-trip time.
func printTable(w io.Writer, rows []cell) {
	base := map[time.Duration]float64{}
	for _, r := range rows {
		if r.client.key == baselineKey {
			base[r.rtt] = r.rate()
		}
	}
	fmt.Fprintln(w, "| RTT | client | messages | messages/s | round trips/message | direction turns/message | time/(messages×RTT) | messages/s vs net/smtp |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		clock := "–"
		if r.rtt > 0 {
			clock = fmt.Sprintf("%.2f", r.rttsPerMsg())
		}
		ratio := "–"
		if b, ok := base[r.rtt]; ok {
			ratio = fmt.Sprintf("%.2f×", r.rate()/b)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.2f | %.2f | %s | %s |\n",
			fmtRTT(r.rtt), r.client.label, r.n, r.rate(), r.roundsPerMsg(), r.turnsPerMsg(), clock, ratio)
	}
}
