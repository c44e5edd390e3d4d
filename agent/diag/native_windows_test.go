package diag

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestNativeServices: the services diagnostic through the real service
// manager (run under Wine by e2e.TestWindowsDiagnostics): a JSON report of
// the stopped automatic services, and one service read by name.
func TestNativeServices(t *testing.T) {
	var r Runner
	out, err := r.Run(context.Background(), "services", nil)
	if err != nil {
		t.Fatalf("services: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil || m["meaning"] == nil {
		t.Fatalf("services report %s (%v): not the Windows one", out, err)
	}
	t.Logf("services: %s", out)
	out, err = r.Run(context.Background(), "services", map[string]any{"name": "nosuchservice"})
	if err != nil || !strings.Contains(out, "no such service") {
		t.Fatalf("services nosuchservice: %s, %v", out, err)
	}
}

// TestNativeRecentErrors: the recent_errors diagnostic through the real
// Event Log, where the system has one; the outcome is logged either way.
func TestNativeRecentErrors(t *testing.T) {
	var r Runner
	out, err := r.Run(context.Background(), "recent_errors", map[string]any{"hours": int64(24)})
	t.Logf("recent_errors: %s, %v", out, err)
	if err == nil && !json.Valid([]byte(out)) {
		t.Fatalf("recent_errors report is not JSON: %s", out)
	}
}
