package e2e

// The Windows lane: the real cross-compiled Windows agent, and the
// cross-compiled tests of its Windows-only packages, run under Wine
// (harness/wine; `just wine` sets the lane up, and these tests skip naming
// it when it is absent). Wine is not Windows: a pass here says the code
// runs against Wine's implementation of the API, which for GDI and
// SendInput on an X display is close; docs/ARCHITECTURE.md ("Windows under
// Wine") lists what Wine lacks.

import (
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wine"
	"github.com/peerdesk/peerdesk/harness/xclient"
)

// TestWindowsAgentHelp: the cross-compiled peerdesk-agent.exe starts under
// Wine (Go's runtime finds ProcessPrng in the lane's bcryptprimitives.dll
// shim) and `-h` prints the command table and exits 0.
func TestWindowsAgentHelp(t *testing.T) {
	lane := wine.Require(t)
	leak.Check(t)
	exe := wine.Build(t, "./cmd/peerdesk-agent")
	r := lane.Run(t, "", exe, "-h")
	t.Logf("peerdesk-agent.exe -h under Wine: exit %d in %v", r.Code, r.Took)
	out := r.Stdout + r.Stderr
	if r.Code != 0 {
		t.Fatalf("peerdesk-agent.exe -h exited %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"usage: peerdesk-agent <command>", "install ", "uninstall ", "run "} {
		if !strings.Contains(out, want) {
			t.Errorf("peerdesk-agent.exe -h output lacks %q:\n%s", want, out)
		}
	}
}

// runWindowsTests cross-compiles pkg's tests, runs those matching run under
// Wine on a fresh Xvfb display and fails unless each name in want passed
// (a skipped or absent test is a failure: the lane must exercise it).
func runWindowsTests(t *testing.T, pkg, run string, want ...string) {
	t.Helper()
	lane := wine.Require(t)
	leak.Check(t)
	exe := wine.BuildTest(t, pkg)
	display := xclient.StartXvfb(t, 1280, 800)
	r := lane.Run(t, display, exe, "-test.v", "-test.count=1", "-test.run", run)
	t.Logf("%s tests under Wine: exit %d in %v\n%s%s", pkg, r.Code, r.Took, r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("%s tests under Wine exited %d", pkg, r.Code)
	}
	for _, name := range want {
		if !strings.Contains(r.Stdout, "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass under Wine (skipped or not run)", name)
		}
	}
}

// TestWindowsGDICapture: the Windows capture package's own tests, built
// for Windows, run under Wine on Xvfb: GDI capture of the whole screen and
// of what a real Win32 window painted (agent/screen/capture
// TestGDICapture, TestGDICaptureWindow).
func TestWindowsGDICapture(t *testing.T) {
	runWindowsTests(t, "./agent/screen/capture", "^TestGDICapture", "TestGDICapture", "TestGDICaptureWindow")
}

// TestWindowsSendInput: the Windows injector's own test, built for
// Windows, run under Wine on Xvfb: a move lands the cursor where asked and
// keys sent with SendInput type "Peer 4-w" into a real EDIT control
// (agent/input TestSendInputTypesIntoWindow).
func TestWindowsSendInput(t *testing.T) {
	runWindowsTests(t, "./agent/input", "^TestSendInputTypesIntoWindow$", "TestSendInputTypesIntoWindow")
}

// TestWindowsInputDesktop: capture and input switch their thread to the
// desktop that has the input (OpenInputDesktop, SetThreadDesktop) and back
// (agent/internal/inputdesk TestRunOnInputDesktop); under Wine that is
// Default, the only desktop. TestWindowsGDICapture and
// TestWindowsSendInput go through the same switch.
func TestWindowsInputDesktop(t *testing.T) {
	runWindowsTests(t, "./agent/internal/inputdesk", "^TestRunOnInputDesktop$", "TestRunOnInputDesktop")
}

// TestWindowsSessionHelper: the per-session helper's Windows parts under
// Wine (agent/sessionhelper): its decisions' tables, and a helper launched
// with the service's token duplicated into the console session
// (DuplicateTokenEx, SetTokenInformation(TokenSessionId),
// CreateProcessAsUser on winsta0\default) runs there and reports its
// session (TestLaunchAsSystem). The service's supervisor with all of it
// real (TestSupervisorOnWindows) cannot run here: the helper dials the
// pipe, but go-winio's Accept never returns under Wine 8.0. The pipe's protection cannot be shown
// under Wine 8.0: it opens the SYSTEM-only pipe to any process and lets a
// second server take the name. That gap is asserted, so that it is
// noticed when Wine closes it: TestPipeRefusesOthers must fail, for those
// two reasons.
func TestWindowsSessionHelper(t *testing.T) {
	runWindowsTests(t, "./agent/sessionhelper", "^(TestChoose|TestBackoff|TestReconcile|TestLaunchAsSystem)$",
		"TestChoose", "TestBackoff", "TestReconcile", "TestLaunchAsSystem")

	lane := wine.Require(t)
	exe := wine.BuildTest(t, "./agent/sessionhelper")
	r := lane.Run(t, "", exe, "-test.v", "-test.count=1", "-test.run", "^TestPipeRefusesOthers$")
	t.Logf("TestPipeRefusesOthers under Wine: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	for _, gap := range []string{"a second Listen on the same pipe name succeeded", "a process that is not SYSTEM opened the pipe"} {
		if !strings.Contains(r.Stdout, gap) {
			t.Errorf("under Wine TestPipeRefusesOthers no longer reports %q: Wine may now enforce it; update docs/ARCHITECTURE.md and run the test in the lane", gap)
		}
	}
}

// TestWindowsDiagnostics: the help desk's services diagnostic on Windows
// reads the real service manager (agent/diag TestNativeServices under
// Wine); the Event Log's outcome is logged (TestNativeRecentErrors).
func TestWindowsDiagnostics(t *testing.T) {
	runWindowsTests(t, "./agent/diag", "^TestNative", "TestNativeServices", "TestNativeRecentErrors")
}
