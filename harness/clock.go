package harness

import (
	"sync"
	"time"
)

// Clock is a settable clock for coordinators under test: it runs with real
// time, shifted by an offset the test moves.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the shifted time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
