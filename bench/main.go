// Command bench compares smtpkit with net/smtp, emersion/go-smtp and
// wneessen/go-mail: messages per second, round trips per message and the
// client's write and read calls per message on one reused connection,
// through a relay that adds a fixed round-trip time and straight to the
// sink; connections per second and CPU per connection of reconnecting over
// implicit TLS, with and without session resumption; and the peak memory
// of streaming a 1 GiB message. See README.md.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
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
		direct     = flag.Bool("direct", true, "when -rtts has 0, also measure every client connected straight to the sink")
		reconnect  = flag.Bool("reconnect", true, "in table mode, also measure reconnects over implicit TLS")
		conns      = flag.Int("conns", 0, "connections per reconnect row; 0 picks 1000 (20 with -quick)")
		recList    = flag.String("reconnect-clients", "", "comma-separated reconnect rows, of: "+strings.Join(reconnectKeys(), ",")+" (default all)")
		quick      = flag.Bool("quick", false, "a quick check for CI: 50 messages, 0 RTT only, 20 connections per reconnect row, no big message")
		big        = flag.Bool("big", true, "in table mode, also stream the big message")
		bigSize    = flag.Int64("bigsize", 1<<30, "size of the big message in bytes")
		sinkAddr   = flag.String("sink", "", "bigmessage: the sink's address; empty starts one in a child process")
		tlsCert    = flag.String("tlscert", "", "sink: serve implicit TLS with this PEM certificate (with -tlskey)")
		tlsKey     = flag.String("tlskey", "", "sink: the PEM key of -tlscert")
		strip      = flag.Bool("strip-chunking", false, "sink: leave CHUNKING out of the EHLO reply")
		cpuProfile = flag.String("cpuprofile", "", "write this process's CPU profile (the clients', when the sinks run apart) to this file")
	)
	flag.Parse()
	var err error
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer stop()
	}
	switch *mode {
	case "table":
		err = tableMode(tableConfig{
			rtts: *rttsFlag, n: *n, clients: *clientList, direct: *direct,
			reconnect: *reconnect, conns: *conns, reconnectClients: *recList,
			quick: *quick, big: *big && !*quick, bigSize: *bigSize,
		})
	case "bigmessage":
		err = bigMessageMode(os.Stdout, *sinkAddr, *bigSize)
	case "sink":
		err = sinkMode(*tlsCert, *tlsKey, *strip)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// startCPUProfile profiles this process into file until stop is called.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
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

func reconnectKeys() []string {
	var keys []string
	for _, c := range reconnectClients {
		keys = append(keys, c.key)
	}
	return keys
}

// pick returns the elements of all named in the comma-separated list s,
// or all of them when s is empty.
func pick[T any](s string, all []T, key func(T) string) ([]T, error) {
	if strings.TrimSpace(s) == "" {
		return all, nil
	}
	var out []T
	for k := range strings.SplitSeq(s, ",") {
		k = strings.TrimSpace(k)
		i := slices.IndexFunc(all, func(c T) bool { return key(c) == k })
		if i < 0 {
			var keys []string
			for _, c := range all {
				keys = append(keys, key(c))
			}
			return nil, fmt.Errorf("unknown client %q; known: %s", k, strings.Join(keys, ","))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// tableConfig is what the flags ask of table mode.
type tableConfig struct {
	rtts             string
	n                int
	clients          string
	direct           bool
	reconnect        bool
	conns            int
	reconnectClients string
	quick, big       bool
	bigSize          int64
}

func tableMode(tc tableConfig) error {
	rtts, err := parseRTTs(tc.rtts)
	if err != nil {
		return err
	}
	n, conns := tc.n, tc.conns
	if tc.quick {
		rtts = []time.Duration{0}
		if n == 0 {
			n = 50
		}
		if conns == 0 {
			conns = 20
		}
	}
	if conns == 0 {
		conns = 1000
	}
	cs, err := pick(tc.clients, clients, func(c client) string { return c.key })
	if err != nil {
		return err
	}
	rcs, err := pick(tc.reconnectClients, reconnectClients, func(c reconnectClient) string { return c.key })
	if err != nil {
		return err
	}
	load := loadAverage()
	ss, err := startSinkChildren()
	if err != nil {
		return err
	}
	defer ss.Close()
	msg := smallMessage(messageSize)

	ctx := context.Background()
	var rows []cell
	for _, rtt := range rtts {
		cn := n
		if cn == 0 {
			cn = autoN(rtt)
		}
		paths := []bool{false}
		if rtt == 0 && tc.direct {
			paths = append(paths, true)
		}
		for _, direct := range paths {
			for _, c := range cs {
				runtime.GC()
				r, err := runCell(ctx, ss, c, rtt, direct, cn, msg)
				if err != nil {
					return fmt.Errorf("%s at RTT %v (%s): %w", c.label, rtt, r.path(), err)
				}
				fmt.Fprintf(os.Stderr, "%-45s RTT %-5v %-6s %6d msgs %9.0f msg/s %5.2f RT/msg %5.2f writes/msg %5.2f reads/msg CPU/msg %s, sink %s\n",
					c.label, rtt, r.path(), r.n, r.rate(), r.roundsPerMsg(), r.writesPerMsg(), r.readsPerMsg(), r.cpuPerMsg(r.clientCPU), r.cpuPerMsg(r.sinkCPU))
				rows = append(rows, r)
			}
		}
	}
	var recRows []reconnectRow
	if tc.reconnect {
		if recRows, err = reconnectTable(ctx, rcs, conns); err != nil {
			return err
		}
	}
	fmt.Println(environment(load))
	fmt.Println(strings.TrimSpace("Command: go run . " + strings.Join(os.Args[1:], " ")))
	fmt.Printf("Each cell: %d-byte messages, one connection set up before the clock starts, %d warm-up messages, then the measured messages one transaction at a time (SendBatch: one batch).\n\n",
		len(msg), warmup)
	printTable(os.Stdout, rows)
	if tc.reconnect {
		fmt.Println()
		fmt.Printf("Reconnects: each is a new TCP connection, the implicit TLS handshake, the greeting, EHLO and QUIT, one after another, to a sink speaking implicit TLS in another process (ECDSA P-256 certificate); %d warm-up connections, then the measured ones.\n\n",
			reconnectWarmup)
		printReconnectTable(os.Stdout, recRows)
	}
	if tc.big {
		fmt.Println()
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cmd := exec.Command(exe, "-mode=bigmessage", fmt.Sprintf("-bigsize=%d", tc.bigSize))
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("big message: %w", err)
		}
	}
	return nil
}

// reconnectTable starts a TLS sink in a child process, so that the CPU
// time of this process is the clients' alone, and measures each row.
func reconnectTable(ctx context.Context, rcs []reconnectClient, conns int) ([]reconnectRow, error) {
	cert, err := newSinkCert()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "smtpkit-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	certFile, keyFile, err := cert.writeFiles(dir)
	if err != nil {
		return nil, err
	}
	child, err := startSinkChild("-tlscert="+certFile, "-tlskey="+keyFile)
	if err != nil {
		return nil, err
	}
	defer child.stop()
	var rows []reconnectRow
	for _, rc := range rcs {
		runtime.GC()
		r, err := runReconnect(ctx, rc, child.addr, cert, conns, child.cpuTime)
		if err != nil {
			return nil, fmt.Errorf("reconnect %s: %w", rc.label, err)
		}
		fmt.Fprintf(os.Stderr, "%-60s %5d conns %7.0f conns/s %s CPU/conn, sink %s, resumed %d\n",
			rc.label, r.n, r.rate(), perConn(r.cpu, r.n), perConn(r.sinkCPU, r.n), r.resumed)
		rows = append(rows, r)
	}
	if _, _, err := child.stop(); err != nil {
		return nil, err
	}
	return rows, nil
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

// sinkMode serves a sink (implicit TLS with certFile and keyFile; no
// CHUNKING with strip) and prints its address. Each line "cpu" on
// standard input is answered with "cpu" and the process's CPU time in
// nanoseconds, each line "count" with "count" and the messages received
// whole so far; when standard input is closed it prints what it received
// and exits.
func sinkMode(certFile, keyFile string, strip bool) error {
	cfg := sinkConfig{stripChunking: strip}
	if certFile != "" || keyFile != "" {
		var err error
		if cfg.tls, err = loadServerConfig(certFile, keyFile); err != nil {
			return err
		}
	}
	s, err := startSink(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("addr %s\n", s.Addr)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "count" {
			fmt.Printf("count %d\n", s.Messages())
			continue
		}
		if sc.Text() != "cpu" {
			continue
		}
		cpu, err := processCPU()
		if err != nil {
			fmt.Printf("cpu -1\n")
			continue
		}
		fmt.Printf("cpu %d\n", cpu.Nanoseconds())
	}
	err = s.Close()
	fmt.Printf("received %d %d\n", s.Messages(), s.Bytes())
	return err
}
