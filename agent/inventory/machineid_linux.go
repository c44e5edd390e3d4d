package inventory

import (
	"os"
	"path/filepath"
	"strings"
)

// volatileHostID reports whether id is the kernel's per-boot id. gopsutil
// falls back to it on Linux when neither the DMI product UUID (root only)
// nor /etc/machine-id can be read; enrolling with it would make the machine
// a new device after every reboot. Like gopsutil, it honours HOST_PROC.
func volatileHostID(id string) bool {
	proc := os.Getenv("HOST_PROC")
	if proc == "" {
		proc = "/proc"
	}
	b, err := os.ReadFile(filepath.Join(proc, "sys/kernel/random/boot_id"))
	if err != nil {
		// No boot id to fall back to, so gopsutil cannot have returned it.
		return false
	}
	return strings.EqualFold(strings.TrimSpace(string(b)), strings.TrimSpace(id))
}
