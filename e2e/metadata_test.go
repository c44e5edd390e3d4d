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
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestMetadataReconfigure (U4, U5 custom fields, M6): what the machine
// reports about itself and the shop's custom fields are set at enrollment,
// reported with the inventory, and a change made with reconfigure reaches
// the coordinator at the running agent's next heartbeat, not at the next
// hourly inventory. Where it is filed is not the machine's to say (M6):
// its enrollment token files it under Acme/Berlin, so the Globex/Rome it
// claims, and the site it later reconfigures, change nothing — an Acme
// technician sees it, a Globex technician does not.
func TestMetadataReconfigure(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	if err := c.Admin.AddUser(context.Background(), "bob", harness.Password, string(policy.RoleTechnician), "Acme"); err != nil {
		t.Fatal(err)
	}
	if err := c.Admin.AddUser(context.Background(), "gina", harness.Password, string(policy.RoleTechnician), "Globex"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pc")
	ctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	claims := wire.Metadata{Company: "Globex", Site: "Rome", DeviceType: "laptop", Custom: map[string]string{"asset": "INV-0042"}}
	if _, err := agent.Enroll(ctx, agent.EnrollOptions{StateDir: dir, CoordinatorURL: c.URL(), Token: c.TokenFor(t, "Acme", "Berlin"), Hostname: "pc",
		MachineID: harness.NewMachineID(), Metadata: claims}); err != nil {
		t.Fatal(err)
	}
	bad := wire.Metadata{Site: "a\nb"}
	if _, err := agent.Enroll(ctx, agent.EnrollOptions{StateDir: t.TempDir(), CoordinatorURL: c.URL(), Token: c.Token(t, 0), Metadata: bad}); err == nil {
		t.Fatal("enrolled with a control character in the site")
	}
	a := harness.RunAgent(t, dir, "pc")
	v := c.LoginViewer(t, "bob")
	// reported waits until bob's device list shows the machine as want
	// says, custom fields included.
	reported := func(want wire.Metadata) {
		t.Helper()
		wait.ForErr(t, fmt.Sprintf("the coordinator to show %+v", want), func() error {
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
	// Filed where the token says; the rest as the machine reports it.
	reported(wire.Metadata{Company: "Acme", Site: "Berlin", DeviceType: "laptop", Custom: claims.Custom})
	// The report is in: a Globex technician, whom the claim names, does not
	// get the machine.
	g := c.LoginViewer(t, "gina")
	devs, err := try(g.Devices)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.ID == a.DeviceID() {
			t.Fatalf("a Globex technician sees the Acme machine that claims Globex: %+v", d)
		}
	}

	got, err := agent.Reconfigure(dir, func(m *wire.Metadata) {
		m.Site, m.Tag = "Paris", "finance"
		m.Custom["cost-centre"] = "40"
	})
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Metadata{Company: "Globex", Site: "Paris", DeviceType: "laptop", Tag: "finance",
		Custom: map[string]string{"asset": "INV-0042", "cost-centre": "40"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Reconfigure = %+v", got)
	}
	// The tag and the custom field arrive; the site stays the token's.
	reported(wire.Metadata{Company: "Acme", Site: "Berlin", DeviceType: "laptop", Tag: "finance", Custom: want.Custom})
	if _, err := agent.Reconfigure(dir, func(m *wire.Metadata) { m.Company = string(make([]byte, wire.MaxMetadataField+1)) }); err == nil {
		t.Fatal("reconfigured with an over-long company")
	}
	if _, err := agent.Reconfigure(dir, func(m *wire.Metadata) { m.Custom["bad\tname"] = "x" }); err == nil {
		t.Fatal("reconfigured with a control character in a custom field's name")
	}
}
