package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

// TestAgentsDoNotSeeEachOther (O5): an agent's network map lists
// technicians only, never another agent — while agents join one after
// another with no technician on the overlay (Headscale's incremental
// updates skip peer filtering when the compiled filter is empty, which
// sent each new agent to every other; policy.OverlayACL keeps it
// non-empty), and after a technician joins. The technician sees them all.
func TestAgentsDoNotSeeEachOther(t *testing.T) {
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	var agents []*harness.Agent
	names := []string{"ws-1", "ws-2", "ws-3", "ws-4"}
	// Technicians are the only peers an agent may have: strays lists the
	// others in the agents' maps.
	strays := func() []string {
		t.Helper()
		var out []string
		for i, a := range agents {
			ps, err := try(a.Node().Peers)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if !slices.Contains(p.Tags, wire.TagTech) {
					out = append(out, fmt.Sprintf("%s has %s (tags %v)", names[i], p.Name, p.Tags))
				}
			}
		}
		return out
	}
	check := func(when string) {
		t.Helper()
		for _, s := range strays() {
			t.Errorf("%s: agent %s in its network map", when, s)
		}
	}
	for _, n := range names {
		agents = append(agents, c.EnrollAgent(t, n))
		check("after " + n + " joined")
	}
	// No event says that no update is still coming: the maps stay clean
	// for a second, fifty of the coordinator's 20 ms change batches.
	wait.Holds(t, time.Second, "agents' maps without other agents after the last join", func() bool {
		s := strays()
		for _, s := range s {
			t.Logf("agent %s in its network map", s)
		}
		return len(s) == 0
	})

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
