package api

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/wire"
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

// Gone marks device offline now: its presence stream ended.
func (p *Presence) Gone(device string) {
	p.mu.Lock()
	if t, ok := p.seen[device]; ok {
		p.seen[device] = t.Add(-p.grace - time.Nanosecond)
	}
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

// handlePresence keeps a device online while its presence stream ticks.
func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request, dev enroll.Device) {
	rc := http.NewResponseController(w)
	// HTTP/1.1 stops reading a request's body once the answer started,
	// unless asked not to (HTTP/2 always interleaves).
	if err := rc.EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Warn("presence: no full duplex; stream refused", "err", err)
		return
	}
	// The answer's headers go out first, so the agent knows it is heard.
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	s.cfg.Presence.Seen(dev.ID)
	defer s.cfg.Presence.Gone(dev.ID)
	buf := make([]byte, 64)
	for {
		if err := rc.SetReadDeadline(time.Now().Add(wire.PresenceTimeout)); err != nil {
			s.log.Warn("presence: no read deadline; stream refused", "err", err)
			return
		}
		n, err := r.Body.Read(buf)
		if n > 0 {
			s.cfg.Presence.Seen(dev.ID)
		}
		if err != nil {
			return
		}
	}
}
