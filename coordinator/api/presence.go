package api

import (
	"sync"
	"time"
)

// Presence tracks agents' heartbeats in memory. Heartbeats are frequent and
// only their latest time matters, so they are not written to the store.
type Presence struct {
	grace time.Duration
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time
}

// NewPresence returns a tracker that considers a device online for grace
// after its last heartbeat.
func NewPresence(grace time.Duration, now func() time.Time) *Presence {
	if now == nil {
		now = time.Now
	}
	return &Presence{grace: grace, now: now, seen: map[string]time.Time{}}
}

// Seen records a heartbeat from device.
func (p *Presence) Seen(device string) {
	p.mu.Lock()
	p.seen[device] = p.now()
	p.mu.Unlock()
}

// Forget drops a device.
func (p *Presence) Forget(device string) {
	p.mu.Lock()
	delete(p.seen, device)
	p.mu.Unlock()
}

// LastSeen returns the device's last heartbeat and whether it is online.
func (p *Presence) LastSeen(device string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.seen[device]
	return t, ok && p.now().Sub(t) <= p.grace
}
