//go:build windows

package inputdesk

import (
	"runtime"
	"testing"
)

// TestRunOnInputDesktop: f runs on the desktop that has the input, named
// as Windows names it, and the thread is back on its own desktop after.
// The Wine lane runs it (e2e TestWindowsInputDesktop): there the input
// desktop is the only one, Default; the logon and secure desktops exist
// on Windows only.
func TestRunOnInputDesktop(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := Name()
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := Run(func() error {
		var err error
		inside, err = Name()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	after, err := Name()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("thread desktop %q, input desktop %q", before, inside)
	if inside == "" || after != before {
		t.Errorf("input desktop %q; thread on %q after, %q before", inside, after, before)
	}
}
