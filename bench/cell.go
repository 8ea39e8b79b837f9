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
	// cpuKnown is set when the sink ran in another process and the
	// client reached it directly: this process's CPU time is then the
	// client's alone.
	cpuKnown           bool
	clientCPU, sinkCPU time.Duration // during the measured messages
}

func (c cell) rate() float64 { return float64(c.n) / c.elapsed.Seconds() }

func (c cell) roundsPerMsg() float64 { return float64(c.stats.Rounds) / float64(c.n) }

func (c cell) turnsPerMsg() float64 { return float64(c.stats.Turns) / float64(c.n) }

func (c cell) writesPerMsg() float64 { return float64(c.io.Writes) / float64(c.n) }

func (c cell) readsPerMsg() float64 { return float64(c.io.Reads) / float64(c.n) }

// cpuPerMsg formats d per measured message, or "–" when the CPU times
// are not the client's and the sink's alone.
func (c cell) cpuPerMsg(d time.Duration) string {
	if !c.cpuKnown {
		return "–"
	}
	return fmt.Sprintf("%.1f µs", d.Seconds()*1e6/float64(c.n))
}

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

// sinkServer is a sink a cell sends to: in this process (the tests and
// the Go benchmarks), or in a child process (the table), where the CPU
// time of this process is the client's alone.
type sinkServer interface {
	address() string
	// received returns the number of messages received whole so far.
	received() (int64, error)
	// cpu returns the sink process's CPU time so far; ok is false when
	// the sink shares this process.
	cpu() (d time.Duration, ok bool, err error)
	Close() error
}

// sinks are the sinks of the throughput table: the plain one, and one
// whose EHLO reply has no CHUNKING for the PIPELINING-only rows on a
// direct connection (through the relay, the relay strips it).
type sinks struct {
	plain, stripped sinkServer
}

// startSinks starts both sinks in this process.
func startSinks() (*sinks, error) {
	return startSinkPair(func(strip bool) (sinkServer, error) {
		return startSink(sinkConfig{stripChunking: strip})
	})
}

// startSinkChildren starts both sinks, each in a child process.
func startSinkChildren() (*sinks, error) {
	return startSinkPair(func(strip bool) (sinkServer, error) {
		if strip {
			return startSinkChild("-strip-chunking")
		}
		return startSinkChild()
	})
}

func startSinkPair(start func(strip bool) (sinkServer, error)) (*sinks, error) {
	plain, err := start(false)
	if err != nil {
		return nil, err
	}
	stripped, err := start(true)
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
	if direct && c.pipeliningOnly {
		s = ss.stripped
	}
	addr := s.address()
	var r *relay
	if !direct {
		var err error
		if r, err = newRelay(addr, rtt, c.pipeliningOnly); err != nil {
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
	got0, err := s.received()
	if err != nil {
		return cell{}, err
	}
	sinkCPU0, separate, err := s.cpu()
	if err != nil {
		return cell{}, err
	}
	cpu0, err := processCPU()
	if err != nil {
		return cell{}, err
	}
	st0 := stats()
	io0 := d.Stats()
	t0 := time.Now()
	if err := sess.send(ctx, n); err != nil {
		return cell{}, err
	}
	elapsed := time.Since(t0)
	io1 := d.Stats()
	st1 := stats()
	cpu1, err := processCPU()
	if err != nil {
		return cell{}, err
	}
	sinkCPU1, _, err := s.cpu()
	if err != nil {
		return cell{}, err
	}
	got1, err := s.received()
	if err != nil {
		return cell{}, err
	}
	if err := sess.close(ctx); err != nil {
		return cell{}, fmt.Errorf("QUIT: %w", err)
	}
	if got := got1 - got0; got != int64(n) {
		return cell{}, fmt.Errorf("the sink received %d messages, want %d", got, n)
	}
	out := cell{client: c, rtt: rtt, direct: direct, n: n, elapsed: elapsed, stats: st1.sub(st0), io: io1.sub(io0)}
	if separate && direct {
		out.cpuKnown = true
		out.clientCPU = cpu1 - cpu0
		out.sinkCPU = sinkCPU1 - sinkCPU0
	}
	return out, nil
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
	fmt.Fprintln(w, "| RTT | path | client | messages | messages/s | round trips/message | direction turns/message | writes/message | reads/message | client CPU/message | sink CPU/message | time/(messages×RTT) | messages/s vs net/smtp |")
	fmt.Fprintln(w, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
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
		fmt.Fprintf(w, "| %s | %s | %s | %d | %.0f | %s | %s | %.2f | %.2f | %s | %s | %s | %s |\n",
			fmtRTT(r.rtt), r.path(), r.client.label, r.n, r.rate(), rounds, turns,
			r.writesPerMsg(), r.readsPerMsg(), r.cpuPerMsg(r.clientCPU), r.cpuPerMsg(r.sinkCPU), clock, ratio)
	}
}
