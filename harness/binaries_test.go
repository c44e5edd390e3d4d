package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSweepBinaries: the binary directories of ended test processes go;
// a running process's, and names of another shape, stay.
func TestSweepBinaries(t *testing.T) {
	t.Parallel()
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dead := binPrefix + strconv.Itoa(ended.Process.Pid) + "-123"
	live := binPrefix + strconv.Itoa(os.Getpid()) + "-456"
	keep := []string{live, binPrefix + "notapid-1", binPrefix + "789", "other-" + strconv.Itoa(ended.Process.Pid) + "-1"}
	for _, name := range append([]string{dead}, keep...) {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "peerdesk"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sweepBinaries(dir)
	if _, err := os.Stat(filepath.Join(dir, dead)); !os.IsNotExist(err) {
		t.Errorf("%s (process ended) still there: %v", dead, err)
	}
	for _, name := range keep {
		if _, err := os.Stat(filepath.Join(dir, name, "peerdesk")); err != nil {
			t.Errorf("%s swept: %v", name, err)
		}
	}
}
