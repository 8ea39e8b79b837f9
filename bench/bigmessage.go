package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit"
)

// bigMessageMode streams one generated message of size bytes through
// smtpkit to a sink and reports the process's peak resident set size
// (VmHWM) before and after. The sink runs in a child process unless
// sinkAddr is given, so the figure is the client's alone.
func bigMessageMode(w io.Writer, sinkAddr string, size int64) error {
	load := loadAverage()
	var child *sinkChild
	if sinkAddr == "" {
		var err error
		if child, err = startSinkChild(); err != nil {
			return err
		}
		defer child.stop()
		sinkAddr = child.addr
	}
	runtime.GC()
	before, err := procStatus("VmHWM")
	if err != nil {
		return err
	}
	ctx := context.Background()
	c, err := smtpkit.Dial(ctx, sinkAddr, &smtpkit.Options{Security: smtpkit.SecurityNone, LocalName: "localhost"})
	if err != nil {
		return err
	}
	msg, total := newBigMessage(size)
	t0 := time.Now()
	_, err = c.Send(ctx, &smtpkit.Envelope{From: benchFrom, To: []string{benchTo}, Size: total}, msg)
	elapsed := time.Since(t0)
	if err != nil {
		c.Close()
		return fmt.Errorf("sending: %w", err)
	}
	peak, err := procStatus("VmHWM")
	if err != nil {
		return err
	}
	if err := c.Quit(ctx); err != nil {
		return err
	}
	received := "(sink in this process: not checked)"
	if child != nil {
		msgs, bytes, err := child.stop()
		if err != nil {
			return err
		}
		if msgs != 1 || bytes < total {
			return fmt.Errorf("the sink received %d messages of %d bytes in all, want 1 of at least %d", msgs, bytes, total)
		}
		received = fmt.Sprintf("%d message, %d bytes", msgs, bytes)
	}
	fmt.Fprintln(w, "Big message: smtpkit Send of one generated message (76-column lines, generated as read) straight to the sink in another process, 0 RTT, PIPELINING+CHUNKING.")
	fmt.Fprintln(w, environment(load))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| message bytes | time | MiB/s | peak RSS (VmHWM) before sending | peak RSS (VmHWM) after sending | sink received |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---|")
	fmt.Fprintf(w, "| %d | %.2f s | %.0f | %.1f MiB | %.1f MiB | %s |\n",
		total, elapsed.Seconds(), float64(total)/(1<<20)/elapsed.Seconds(),
		float64(before)/(1<<10), float64(peak)/(1<<10), received)
	return nil
}

// procStatus returns a field of /proc/self/status in KiB.
func procStatus(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, _ := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		return strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// sinkChild is a sink in a child process (-mode=sink).
type sinkChild struct {
	addr    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Scanner
	stopped bool
}

func startSinkChild(args ...string) (*sinkChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{"-mode=sink"}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	s := &sinkChild{cmd: cmd, stdin: stdin, out: sc}
	if !sc.Scan() {
		s.stop()
		return nil, errors.New("the sink process printed no address")
	}
	addr, ok := strings.CutPrefix(sc.Text(), "addr ")
	if !ok {
		s.stop()
		return nil, fmt.Errorf("the sink process said %q", sc.Text())
	}
	s.addr = addr
	return s, nil
}

// cpuTime returns the CPU time the child has used so far.
func (s *sinkChild) cpuTime() (time.Duration, error) {
	ns, err := s.ask("cpu")
	return time.Duration(ns), err
}

// ask sends the child a question (cpu, count) and returns the number it
// answers with.
func (s *sinkChild) ask(q string) (int64, error) {
	if _, err := io.WriteString(s.stdin, q+"\n"); err != nil {
		return 0, err
	}
	if !s.out.Scan() {
		return 0, fmt.Errorf("the sink process did not answer %q", q)
	}
	var n int64
	if _, err := fmt.Sscanf(s.out.Text(), q+" %d", &n); err != nil || n < 0 {
		return 0, fmt.Errorf("the sink process said %q", s.out.Text())
	}
	return n, nil
}

func (s *sinkChild) address() string { return s.addr }

func (s *sinkChild) received() (int64, error) { return s.ask("count") }

func (s *sinkChild) cpu() (time.Duration, bool, error) {
	d, err := s.cpuTime()
	return d, true, err
}

// Close stops the child.
func (s *sinkChild) Close() error {
	_, _, err := s.stop()
	return err
}

// stop closes the child's standard input and returns what it received.
func (s *sinkChild) stop() (msgs, bytes int64, err error) {
	if s.stopped {
		return 0, 0, nil
	}
	s.stopped = true
	s.stdin.Close()
	if s.out.Scan() {
		if _, err := fmt.Sscanf(s.out.Text(), "received %d %d", &msgs, &bytes); err != nil {
			s.cmd.Wait()
			return 0, 0, fmt.Errorf("the sink process said %q", s.out.Text())
		}
	}
	err = s.cmd.Wait()
	return msgs, bytes, err
}
