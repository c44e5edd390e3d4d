package inventory

import (
	"os"
	"strings"
	"testing"
)

func TestVolatileHostID(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Skipf("no boot id on this kernel: %v", err)
	}
	bootID := strings.TrimSpace(string(b))
	if !volatileHostID(bootID) || !volatileHostID(strings.ToUpper(bootID)+"\n") {
		t.Errorf("volatileHostID(boot id %q) = false, want true", bootID)
	}
	if volatileHostID("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4") {
		t.Error("volatileHostID(a fixed id) = true, want false")
	}

	t.Setenv("HOST_PROC", t.TempDir())
	if volatileHostID(bootID) {
		t.Error("volatileHostID with an empty HOST_PROC = true, want false")
	}
}
