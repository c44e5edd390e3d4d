package harness

import (
	"os/exec"
	"syscall"
	"testing"
)

// TestGroupGone: a process group with a running member is not gone; once
// every member has exited (and been reaped) it is.
func TestGroupGone(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := groupGone(cmd.Process.Pid); err == nil {
		t.Fatal("groupGone reports a group with a running process gone")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() //nolint:errcheck // killed
	if err := groupGone(cmd.Process.Pid); err != nil {
		t.Fatalf("after the only member exited: %v", err)
	}
}
