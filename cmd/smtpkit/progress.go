package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// isTerminal reports whether w is a terminal (a character device, which
// is what a terminal is to os.File.Stat; /dev/null is one too, harmlessly).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// progress draws a progress bar on a terminal, redrawn a few times a
// second from the count of messages whose data went out.
type progress struct {
	w     io.Writer
	total int
	done  atomic.Int64
	count func() int64 // the count, when another keeps it; else done
	stop  chan struct{}
	wg    sync.WaitGroup
}

// startProgress starts drawing a count that add increments; finish stops
// and erases the bar.
func startProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	p.count = p.done.Load
	return p.start()
}

// startProgressFunc starts drawing the count that count returns, such as
// an outbox.Runner's attempts; finish stops and erases the bar.
func startProgressFunc(w io.Writer, total int, count func() int64) *progress {
	return (&progress{w: w, total: total, count: count}).start()
}

func (p *progress) start() *progress {
	p.stop = make(chan struct{})
	p.wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		last := int64(-1)
		for {
			if n := min(p.count(), int64(p.total)); n != last {
				p.draw(n)
				last = n
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	})
	return p
}

// add counts one more message sent.
func (p *progress) add() { p.done.Add(1) }

func (p *progress) draw(n int64) {
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = int(n) * width / p.total
	}
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	fmt.Fprintf(p.w, "\rsending [%s] %d/%d", bar, n, p.total)
}

// finish stops drawing and erases the bar.
func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 60))
}
