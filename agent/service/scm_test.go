package service

import "testing"

// TestStartedBySCM: a process runs as a Windows service when x/sys says so
// (parent services.exe in session 0) or when its parent is services.exe in
// another session, as under Wine (e2e.TestWindowsService runs the real
// case: without the second rule the agent never answers Wine's manager).
func TestStartedBySCM(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		isWindowsService bool
		parent           string
		want             bool
	}{
		{true, "services.exe", true},
		{true, "", true}, // x/sys's answer stands when the snapshot fails
		{false, "services.exe", true},
		{false, "SERVICES.EXE", true},
		{false, `C:\Windows\System32\services.exe`, true},
		{false, "cmd.exe", false},
		{false, "explorer.exe", false},
		{false, "notservices.exe", false},
		{false, "services.exe.evil", false},
		{false, "", false},
	} {
		if got := startedBySCM(tc.isWindowsService, tc.parent); got != tc.want {
			t.Errorf("startedBySCM(%v, %q) = %v, want %v", tc.isWindowsService, tc.parent, got, tc.want)
		}
	}
}
