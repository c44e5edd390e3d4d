package services

import (
	"slices"
	"testing"
)

func TestWindowsNamesAndPlans(t *testing.T) {
	t.Parallel()
	for s, want := range map[uint32]string{1: "stopped", 2: "starting", 3: "stopping", 4: "running", 5: "continuing", 6: "pausing", 7: "paused", 99: "unknown"} {
		if got := winState(s); got != want {
			t.Errorf("winState(%d) = %q, want %q", s, got, want)
		}
	}
	for _, c := range []struct {
		t       uint32
		delayed bool
		want    string
	}{{0, false, "boot"}, {1, false, "system"}, {2, false, "auto"}, {2, true, "auto (delayed)"}, {3, false, "manual"}, {4, false, "disabled"}, {9, false, "unknown"}} {
		if got := winStart(c.t, c.delayed); got != c.want {
			t.Errorf("winStart(%d, %v) = %q, want %q", c.t, c.delayed, got, c.want)
		}
	}
	for _, c := range []struct {
		action string
		state  uint32
		want   []string
	}{
		{"start", winStopped, []string{"start"}}, {"start", winRunning, nil},
		{"stop", winRunning, []string{"stop"}}, {"stop", winStopped, nil}, {"stop", winPaused, []string{"stop"}},
		{"restart", winRunning, []string{"stop", "start"}}, {"restart", winStopped, []string{"start"}},
		{"mask", winRunning, nil},
	} {
		if got := winPlan(c.action, c.state); !slices.Equal(got, c.want) {
			t.Errorf("winPlan(%s, %d) = %v, want %v", c.action, c.state, got, c.want)
		}
	}
}
