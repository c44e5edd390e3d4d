package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
)

// TestAgentReconnectsAfterNetworkChange (U1): the address the agent
// reaches the coordinator by goes away for longer than the presence
// timeout and comes back, as when a laptop changes networks or a link
// flaps. The coordinator shows the agent offline meanwhile; afterwards it
// is online again by itself and a technician reaches it peer to peer.
func TestAgentReconnectsAfterNetworkChange(t *testing.T) {
	harness.Begin(t)
	if !netns.Inside() {
		t.Fatal("this test changes addresses: it must run in the test's own namespace")
	}
	const dev, addr = "pdnet0", "10.77.0.1"
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("link", "add", dev, "type", "veth", "peer", "name", dev+"p")
	t.Cleanup(func() { exec.Command("ip", "link", "del", dev).Run() }) //nolint:errcheck // best effort
	ip("addr", "add", addr+"/32", "dev", dev)
	ip("link", "set", dev+"p", "up")
	ip("link", "set", dev, "up")

	c := harness.StartCoordinator(t, func(cfg *coordinator.Config) {
		cfg.Listen, cfg.STUNListen, cfg.PublicHost = addr+":0", addr+":0", addr
	})
	a := c.EnrollAgent(t, "laptop")
	v := c.LoginViewer(t, c.AddTechnician(t, "hana"))
	if _, err := v.SysInfo(ctx(t), a.DeviceID()); err != nil {
		t.Fatalf("before the change: %v", err)
	}
	ip("addr", "del", addr+"/32", "dev", dev)
	// The viewer needs the address too; ask the coordinator in process.
	wait.ForErr(t, "the coordinator to notice the agent gone", func() error {
		devs, err := c.Desk().Devices(desk.Caller{User: "test", Role: policy.RoleAdmin})
		if err != nil {
			return err
		}
		for _, d := range devs {
			if d.ID == a.DeviceID() && !d.Online {
				return nil
			}
		}
		return errors.New("it still shows the agent online")
	})
	ip("addr", "add", addr+"/32", "dev", dev)
	back := time.Now()
	// Twice the usual deadline: the agent's presence stream reconnects
	// with a pause that doubles on each failure (agent.presence, up to
	// 30 s) and it failed all the while the address was gone.
	err := wait.Until(2*harness.Timeout, func() error {
		devs, err := try(v.Devices)
		if err != nil {
			return err
		}
		for _, d := range devs {
			if d.ID == a.DeviceID() && d.Online && d.LastSeen.After(back) {
				return nil
			}
		}
		return fmt.Errorf("not online since %v: %+v", back, devs)
	})
	if err != nil {
		t.Fatalf("the agent never came back online: %v", err)
	}
	if _, err := v.SysInfo(ctx(t), a.DeviceID()); err != nil {
		t.Fatalf("after the change: %v", err)
	}
}
