package smtpkit

import "sync"

// ModeCache remembers the security mode that Auto or TLS-auto found for a
// network path, so later connections skip the probe and a TLS mode found once
// stays required. Implementations must be safe for concurrent use.
type ModeCache interface {
	// Get returns the mode remembered for key: SecurityImplicitTLS, SecurityStartTLS or SecurityNone.
	Get(key string) (mode Security, ok bool)
	// Put remembers mode for key.
	Put(key string, mode Security)
	// Forget drops what is remembered for key.
	Forget(key string)
}

// NewMemoryModeCache returns a ModeCache held in memory, for the life of the process; a zero Dialer uses one.
func NewMemoryModeCache() ModeCache { return &memoryModes{m: map[string]Security{}} }

type memoryModes struct {
	mu sync.Mutex
	m  map[string]Security
}

func (c *memoryModes) Get(key string) (Security, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[key]
	return s, ok
}

func (c *memoryModes) Put(key string, s Security) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = s
}

func (c *memoryModes) Forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}
