package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/wire"
)

// TestAgentsDoNotSeeEachOther (O5): an agent's network map lists
// technicians only, never another agent — while agents join one after
// another with no technician on the overlay (Headscale's incremental
// updates skip peer filtering when the compiled filter is empty, which
// sent each new agent to every other; policy.OverlayACL keeps it
// non-empty), and after a technician joins. The technician sees them all.
func TestAgentsDoNotSeeEachOther(t *testing.T) {
	c := harness.StartCoordinator(t)
	var agents []*harness.Agent
	names := []string{"ws-1", "ws-2", "ws-3", "ws-4"}
	// Technicians are the only peers an agent may have.
	check := func(when string) {
		t.Helper()
		for i, a := range agents {
			ps, err := a.Node().Peers(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if !slices.Contains(p.Tags, wire.TagTech) {
					t.Errorf("%s: agent %s has %s (tags %v) in its network map", when, names[i], p.Name, p.Tags)
				}
			}
		}
	}
	for _, n := range names {
		agents = append(agents, c.EnrollAgent(t, n))
		check("after " + n + " joined")
	}
	time.Sleep(time.Second) // a change batch or two later
	check("a second after the last join")

	v := c.LoginViewer(t, c.AddTechnician(t, "frank"))
	for _, a := range agents {
		if _, err := v.SysInfo(ctx(t), a.DeviceID()); err != nil {
			t.Fatalf("sysinfo of %s: %v", a.DeviceID(), err)
		}
	}
	n, err := v.Node(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := n.Peers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, p := range ps {
		seen = append(seen, p.Name)
	}
	for _, want := range names {
		if !slices.Contains(seen, want) {
			t.Errorf("the technician's map lacks %s: %v", want, seen)
		}
	}
	check("with a technician on the overlay")
}
