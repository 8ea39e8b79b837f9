package outbox

import "sync"

// dirSync syncs one directory for many callers at once, as a database
// commits a group: a caller waits for a sync that began after it called,
// and one sync serves every caller waiting when it begins.
type dirSync struct {
	dir     string
	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // syncs begun
	done    uint64 // the last sync ended
	running bool
	err     error // of the last sync
}

func newDirSync(dir string) *dirSync {
	d := &dirSync{dir: dir}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// sync returns once a sync of the directory that began after the call has
// ended, with its error.
func (d *dirSync) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	want := d.started + 1
	for d.done < want {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		n := d.started
		d.mu.Unlock()
		err := syncDir(d.dir)
		d.mu.Lock()
		d.running, d.done, d.err = false, n, err
		d.cond.Broadcast()
	}
	return d.err
}
