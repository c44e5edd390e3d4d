package e2e

import (
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness"
)

// TestAgentReconnectsAfterRestart (U1): the coordinator restarts on the
// same data and address; the running agent comes back online by itself
// (presence and control plane), and a technician reaches it peer to peer
// again, with no step at the machine.
func TestAgentReconnectsAfterRestart(t *testing.T) {
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "branch-pc")
	v := c.LoginViewer(t, c.AddTechnician(t, "gina"))
	if _, err := v.SysInfo(ctx(t), a.DeviceID()); err != nil {
		t.Fatalf("before the restart: %v", err)
	}
	online := func(since time.Time) {
		t.Helper()
		deadline := time.Now().Add(harness.Timeout)
		for {
			devs, err := v.Devices(ctx(t))
			if err == nil {
				for _, d := range devs {
					if d.ID == a.DeviceID() && d.Online && d.LastSeen.After(since) {
						return
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the agent never reported itself after %v (last error %v)", since, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	online(time.Time{})
	c.Restart(t)
	restarted := time.Now()
	// A fresh process: the device is known (Badger) and is seen again once
	// the agent's heartbeat and presence stream reconnect.
	online(restarted)
	if _, err := v.SysInfo(ctx(t), a.DeviceID()); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}
