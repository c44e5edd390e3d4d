package desk

import (
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/access"
	"github.com/peerdesk/peerdesk/wire"
)

// accesses remembers, per device, when a technician last got a grant and
// until when a screen grant is live (the Access view's "recently
// accessed" and "guest connected"). It is memory only: after a restart
// the view starts from nothing, which costs no correctness.
type accesses struct {
	mu   sync.Mutex
	last map[string]time.Time
	live map[string]time.Time // screen grant expiry
}

func (a *accesses) record(device string, caps []wire.Capability, at, expires time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		a.last, a.live = map[string]time.Time{}, map[string]time.Time{}
	}
	a.last[device] = at
	for _, c := range caps {
		if c == wire.CapScreen {
			a.live[device] = expires
		}
	}
}

func (a *accesses) get(device string, now time.Time) (last time.Time, live bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last[device], now.Before(a.live[device])
}

// Machines is the Access view's fleet for the caller: the devices in its
// scope with when technicians last connected.
func (d *Desk) Machines(c Caller) ([]access.Machine, error) {
	devs, err := d.Devices(c)
	if err != nil {
		return nil, err
	}
	now := d.now()
	out := make([]access.Machine, len(devs))
	for i, dv := range devs {
		out[i].Device = dv
		out[i].LastAccess, out[i].TechConnected = d.accesses.get(dv.ID, now)
	}
	return out, nil
}
