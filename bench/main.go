// Command bench compares smtpkit with net/smtp, emersion/go-smtp and
// wneessen/go-mail: messages per second and round trips per message on one
// reused connection, through a relay that adds a fixed round-trip time,
// and the peak memory of streaming a 1 GiB message. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

const messageSize = 2 << 10

func main() {
	var (
		mode       = flag.String("mode", "table", "table: the throughput table, then the big message in a child process; bigmessage: only the big message; sink: serve a sink until standard input closes")
		rttsFlag   = flag.String("rtts", "0,2ms,10ms", "comma-separated round-trip times the relay adds")
		n          = flag.Int("n", 0, "messages per cell; 0 picks per round-trip time (5000 at 0, 200 at 2ms, 40 at 10ms: about one or two seconds a cell for net/smtp)")
		clientList = flag.String("clients", "", "comma-separated clients, of: "+strings.Join(clientKeys(), ",")+" (default all)")
		quick      = flag.Bool("quick", false, "a quick check for CI: 50 messages, 0 RTT only, no big message")
		big        = flag.Bool("big", true, "in table mode, also stream the big message")
		bigSize    = flag.Int64("bigsize", 1<<30, "size of the big message in bytes")
		sinkAddr   = flag.String("sink", "", "bigmessage: the sink's address; empty starts one in a child process")
	)
	flag.Parse()
	var err error
	switch *mode {
	case "table":
		err = tableMode(*rttsFlag, *n, *clientList, *quick, *big && !*quick, *bigSize)
	case "bigmessage":
		err = bigMessageMode(os.Stdout, *sinkAddr, *bigSize)
	case "sink":
		err = sinkMode()
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func clientKeys() []string {
	var keys []string
	for _, c := range clients {
		keys = append(keys, c.key)
	}
	return keys
}

// autoN picks the number of messages of a cell for a round-trip time.
func autoN(rtt time.Duration) int {
	switch {
	case rtt <= 0:
		return 5000
	case rtt <= 2*time.Millisecond:
		return 200
	case rtt <= 5*time.Millisecond:
		return 100
	default:
		return 40
	}
}

func parseRTTs(s string) ([]time.Duration, error) {
	var out []time.Duration
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f == "0" {
			out = append(out, 0)
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("bad round-trip time %q", f)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no round-trip time in %q", s)
	}
	return out, nil
}

func pickClients(s string) ([]client, error) {
	if strings.TrimSpace(s) == "" {
		return clients, nil
	}
	var out []client
	for k := range strings.SplitSeq(s, ",") {
		k = strings.TrimSpace(k)
		i := slices.IndexFunc(clients, func(c client) bool { return c.key == k })
		if i < 0 {
			return nil, fmt.Errorf("unknown client %q; known: %s", k, strings.Join(clientKeys(), ","))
		}
		out = append(out, clients[i])
	}
	return out, nil
}

func tableMode(rttsFlag string, n int, clientList string, quick, big bool, bigSize int64) error {
	rtts, err := parseRTTs(rttsFlag)
	if err != nil {
		return err
	}
	if quick {
		rtts = []time.Duration{0}
		if n == 0 {
			n = 50
		}
	}
	cs, err := pickClients(clientList)
	if err != nil {
		return err
	}
	load := loadAverage()
	s, err := startSink()
	if err != nil {
		return err
	}
	defer s.Close()
	msg := smallMessage(messageSize)

	ctx := context.Background()
	var rows []cell
	for _, rtt := range rtts {
		cn := n
		if cn == 0 {
			cn = autoN(rtt)
		}
		for _, c := range cs {
			runtime.GC()
			r, err := runCell(ctx, s, c, rtt, cn, msg)
			if err != nil {
				return fmt.Errorf("%s at RTT %v: %w", c.label, rtt, err)
			}
			fmt.Fprintf(os.Stderr, "%-45s RTT %-5v %6d msgs %9.0f msg/s %5.2f RT/msg\n",
				c.label, rtt, r.n, r.rate(), r.roundsPerMsg())
			rows = append(rows, r)
		}
	}
	fmt.Println(environment(load))
	fmt.Println(strings.TrimSpace("Command: go run . " + strings.Join(os.Args[1:], " ")))
	fmt.Printf("Each cell: %d-byte messages, one connection set up before the clock starts, %d warm-up messages, then the measured messages one transaction at a time (SendBatch: one batch).\n\n",
		len(msg), warmup)
	printTable(os.Stdout, rows)
	if big {
		fmt.Println()
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cmd := exec.Command(exe, "-mode=bigmessage", fmt.Sprintf("-bigsize=%d", bigSize))
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("big message: %w", err)
		}
	}
	return nil
}

// environment describes the run; load is the load average before it.
func environment(load string) string {
	return fmt.Sprintf("%s %s/%s, %d CPUs (GOMAXPROCS %d), %s, 1-minute load average before the run %s",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		time.Now().UTC().Format("2006-01-02 15:04 MST"), load)
}

// loadAverage returns the 1-minute load average, or "?": a busy machine
// makes every figure worse, the round-trip counts excepted.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// sinkMode serves a sink, prints its address, and when standard input is
// closed prints what it received and exits.
func sinkMode() error {
	s, err := startSink()
	if err != nil {
		return err
	}
	fmt.Printf("addr %s\n", s.Addr)
	io.Copy(io.Discard, os.Stdin)
	err = s.Close()
	fmt.Printf("received %d %d\n", s.Messages(), s.Bytes())
	return err
}
