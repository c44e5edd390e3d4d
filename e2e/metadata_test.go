package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/wire"
)

// TestMetadataReconfigure (U4): what the machine is filed under is set at
// enrollment, reported with the inventory, and a change made with
// reconfigure reaches the coordinator at the running agent's next
// heartbeat, not at the next hourly inventory.
func TestMetadataReconfigure(t *testing.T) {
	c := harness.StartCoordinator(t)
	c.AddTechnician(t, "bob")
	dir := filepath.Join(t.TempDir(), "pc")
	ctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	md := wire.Metadata{Company: "Acme", Site: "Berlin", DeviceType: "laptop"}
	if _, err := agent.Enroll(ctx, agent.EnrollOptions{StateDir: dir, CoordinatorURL: c.URL(), Token: c.Token(t, 0), Hostname: "pc",
		MachineID: harness.NewMachineID(), Metadata: md}); err != nil {
		t.Fatal(err)
	}
	bad := wire.Metadata{Site: "a\nb"}
	if _, err := agent.Enroll(ctx, agent.EnrollOptions{StateDir: t.TempDir(), CoordinatorURL: c.URL(), Token: c.Token(t, 0), Metadata: bad}); err == nil {
		t.Fatal("enrolled with a control character in the site")
	}
	a := harness.RunAgent(t, dir, "pc")
	v := c.LoginViewer(t, "bob")
	reported := func(want wire.Metadata) {
		t.Helper()
		for deadline := time.Now().Add(harness.Timeout); ; time.Sleep(100 * time.Millisecond) {
			devs, err := v.Devices(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range devs {
				if d.ID == a.DeviceID() && d.Inventory != nil && d.Inventory.Metadata == want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the coordinator never saw %+v: %+v", want, devs)
			}
		}
	}
	reported(md)

	got, err := agent.Reconfigure(dir, func(m *wire.Metadata) { m.Site, m.Tag = "Paris", "finance" })
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Metadata{Company: "Acme", Site: "Paris", DeviceType: "laptop", Tag: "finance"}
	if got != want {
		t.Fatalf("Reconfigure = %+v", got)
	}
	reported(want)
	if _, err := agent.Reconfigure(dir, func(m *wire.Metadata) { m.Company = string(make([]byte, wire.MaxMetadataField+1)) }); err == nil {
		t.Fatal("reconfigured with an over-long company")
	}
}
