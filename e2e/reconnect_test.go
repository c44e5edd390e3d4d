package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// TestAgentReconnectsAfterRestart (U1): the coordinator restarts on the
// same data and address; the running agent comes back online by itself
// (presence and control plane), and a technician reaches it peer to peer
// again, with no step at the machine.
func TestAgentReconnectsAfterRestart(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "branch-pc")
	v := c.LoginViewer(t, c.AddTechnician(t, "gina"))
	if _, err := v.SysInfo(ctx(t), a.DeviceID()); err != nil {
		t.Fatalf("before the restart: %v", err)
	}
	online := func(since time.Time) {
		t.Helper()
		wait.ForErr(t, fmt.Sprintf("the agent to report itself after %v", since), func() error {
			devs, err := try(v.Devices)
			if err != nil {
				return err
			}
			for _, d := range devs {
				if d.ID == a.DeviceID() && d.Online && d.LastSeen.After(since) {
					return nil
				}
			}
			return fmt.Errorf("devices: %+v", devs)
		})
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
