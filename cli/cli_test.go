package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/cli/auditcmd"
	"github.com/peerdesk/peerdesk/wire"
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

// brokenTrail answers as a coordinator whose audit chain was edited at
// record 3.
type brokenTrail struct{}

func (brokenTrail) AuditVerify(context.Context) (wire.AuditVerifyResult, error) {
	return wire.AuditVerifyResult{Records: 2, FirstBad: 3, Key: "00000000000000000003", Reason: "record 3 was altered"}, nil
}

func (brokenTrail) AuditExport(context.Context, io.Writer, string, time.Time) error { return nil }

// TestL3AuditVerifyExitsNonZero: `peerdesk admin audit verify` on a broken
// chain exits 1 and names the first bad record; export exits 0.
func TestL3AuditVerifyExitsNonZero(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmds := []Command{{Name: "admin", Run: func(ctx context.Context, args []string) error {
		return auditcmd.Run(ctx, brokenTrail{}, args[1:], &stdout) // args[0] is "audit"
	}}}
	if code := run("peerdesk", cmds, []string{"admin", "audit", "verify"}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "record 3") || !strings.Contains(stdout.String(), "first bad record 3") {
		t.Fatalf("verify of a broken chain: exit %d, stderr %q, stdout %q", code, stderr.String(), stdout.String())
	}
	if code := run("peerdesk", cmds, []string{"admin", "audit", "export", "-format", "csv"}, &stderr); code != 0 {
		t.Fatalf("export: exit %d, %q", code, stderr.String())
	}
}

// TestExitStatusPassedThrough: a command returning ExitStatus(n), wrapped
// or not, exits n and prints nothing.
func TestExitStatusPassedThrough(t *testing.T) {
	t.Parallel()
	for _, err := range []error{ExitStatus(3), fmt.Errorf("remote: %w", ExitStatus(130))} {
		cmds := []Command{{Name: "x", Usage: "x", Run: func(context.Context, []string) error { return err }}}
		var stderr strings.Builder
		want := 3
		if err.Error() != "exit status 3" {
			want = 130
		}
		if code := run("p", cmds, []string{"x"}, &stderr); code != want || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q; want %d and nothing", err, code, stderr.String(), want)
		}
	}
}
