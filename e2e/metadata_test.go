package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

// TestMetadataReconfigure (U4, U5 custom fields): what the machine is
// filed under and the shop's custom fields are set at enrollment, reported
// with the inventory, and a change made with reconfigure reaches the
// coordinator at the running agent's next heartbeat, not at the next
// hourly inventory.
func TestMetadataReconfigure(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	c.AddTechnician(t, "bob")
	dir := filepath.Join(t.TempDir(), "pc")
	ctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	md := wire.Metadata{Company: "Acme", Site: "Berlin", DeviceType: "laptop", Custom: map[string]string{"asset": "INV-0042"}}
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
		wait.ForErr(t, fmt.Sprintf("the coordinator to see %+v", want), func() error {
			devs, err := try(v.Devices)
			if err != nil {
				return err
			}
			for _, d := range devs {
				if d.ID != a.DeviceID() || d.Inventory == nil {
					continue
				}
				filed := want
				filed.Custom = nil // reported as Inventory.Custom
				if reflect.DeepEqual(d.Inventory.Metadata, filed) && maps.Equal(d.Inventory.Custom, want.Custom) {
					return nil
				}
			}
			return fmt.Errorf("devices: %+v", devs)
		})
	}
	reported(md)

	got, err := agent.Reconfigure(dir, func(m *wire.Metadata) {
		m.Site, m.Tag = "Paris", "finance"
		m.Custom["cost-centre"] = "40"
	})
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Metadata{Company: "Acme", Site: "Paris", DeviceType: "laptop", Tag: "finance",
		Custom: map[string]string{"asset": "INV-0042", "cost-centre": "40"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Reconfigure = %+v", got)
	}
	reported(want)
	if _, err := agent.Reconfigure(dir, func(m *wire.Metadata) { m.Company = string(make([]byte, wire.MaxMetadataField+1)) }); err == nil {
		t.Fatal("reconfigured with an over-long company")
	}
	if _, err := agent.Reconfigure(dir, func(m *wire.Metadata) { m.Custom["bad\tname"] = "x" }); err == nil {
		t.Fatal("reconfigured with a control character in a custom field's name")
	}

}
