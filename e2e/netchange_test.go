package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/policy"
)

// TestAgentReconnectsAfterNetworkChange (U1): the address the agent
// reaches the coordinator by goes away for longer than the presence
// timeout and comes back, as when a laptop changes networks or a link
// flaps. The coordinator shows the agent offline meanwhile; afterwards it
// is online again by itself and a technician reaches it peer to peer.
func TestAgentReconnectsAfterNetworkChange(t *testing.T) {
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
	state := func(online bool, since time.Time) {
		t.Helper()
		deadline := time.Now().Add(2 * harness.Timeout)
		for {
			devs, err := v.Devices(ctx(t))
			if err == nil {
				for _, d := range devs {
					if d.ID == a.DeviceID() && d.Online == online && (!online || d.LastSeen.After(since)) {
						return
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the agent never showed online=%v (since %v; last error %v)", online, since, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ip("addr", "del", addr+"/32", "dev", dev)
	// The viewer needs the address too; ask the coordinator in process.
	offline := false
	for deadline := time.Now().Add(harness.Timeout); !offline && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		devs, err := c.API().Devices(policy.RoleAdmin, policy.Scope{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			offline = offline || (d.ID == a.DeviceID() && !d.Online)
		}
	}
	if !offline {
		t.Fatal("the coordinator never noticed the agent gone")
	}
	ip("addr", "add", addr+"/32", "dev", dev)
	back := time.Now()
	state(true, back)
	if _, err := v.SysInfo(ctx(t), a.DeviceID()); err != nil {
		t.Fatalf("after the change: %v", err)
	}
}
