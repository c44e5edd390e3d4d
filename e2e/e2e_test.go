// Package e2e holds peerdesk's end-to-end tests: real coordinator (embedded
// Headscale, DERP, Badger), real tsnet agents and viewers, in a
// loopback-only network namespace.
package e2e

import (
	"context"
	"io"
	"log"
	"os"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/wire"
)

func TestMain(m *testing.M) {
	// xgb logs to stderr on its own (e.g. a missing ~/.Xauthority); it
	// would break up benchmark output lines.
	if os.Getenv("PEERDESK_TEST_LOG") == "" {
		xgb.Logger = log.New(io.Discard, "", 0)
	}
	netns.Main(m)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	t.Cleanup(cancel)
	return c
}

// TestEnrollJoinGrantCall is the foundation's journey: enroll → join →
// technician login → grant → peer-to-peer call answered; then the
// coordinator stops and the established peer-to-peer path still carries
// calls (O3).
func TestEnrollJoinGrantCall(t *testing.T) {
	c := harness.StartCoordinator(t)
	a := c.EnrollAgent(t, "pc-1")
	v := c.LoginViewer(t, c.AddTechnician(t, "alice"))

	devs, err := v.Devices(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].ID != a.DeviceID() || devs[0].Hostname != "pc-1" {
		t.Fatalf("devices = %+v", devs)
	}
	g, err := v.Grant(ctx(t), a.DeviceID(), wire.CapSysInfo)
	if err != nil {
		t.Fatal(err)
	}
	var inv wire.Inventory
	if err := v.Call(ctx(t), g.OverlayIP, g.Grant, wire.PeerPathSysInfo, &inv); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if inv.Hostname != host || inv.RAMBytes == 0 || inv.AgentVersion != "test" {
		t.Fatalf("inventory = %+v", inv)
	}

	// O3: the coordinator goes away; the peer-to-peer path stays.
	c.Stop()
	for i := range 3 {
		var again wire.Inventory
		if err := v.Call(ctx(t), g.OverlayIP, g.Grant, wire.PeerPathSysInfo, &again); err != nil {
			t.Fatalf("call %d with the coordinator down: %v", i, err)
		}
		if again.Hostname != host {
			t.Fatalf("call %d: %+v", i, again)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// New sessions need the coordinator.
	if _, err := v.Grant(ctx(t), a.DeviceID(), wire.CapSysInfo); err == nil {
		t.Fatal("a grant was issued with the coordinator down")
	}
}
