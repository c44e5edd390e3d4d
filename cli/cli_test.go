package cli

import (
	"runtime/debug"
	"testing"
)

// TestSetGCPercent: the coordinator's GOGC applies unless the environment
// sets its own, and 0 leaves Go's default.
func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	SetGCPercent(CoordinatorGCPercent)
	if got := debug.SetGCPercent(100); got != CoordinatorGCPercent {
		t.Errorf("GOGC is %d, want %d", got, CoordinatorGCPercent)
	}
	SetGCPercent(0)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("0 changed GOGC to %d", got)
	}
	t.Setenv("GOGC", "200")
	SetGCPercent(CoordinatorGCPercent)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=200 in the environment, but the flag set %d", got)
	}
}
