package diag

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/policy"
)

// TestRun runs every diagnostic on this machine (real data) and checks
// each report is JSON of the expected shape.
func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var r Runner
	for _, tc := range []struct {
		name string
		args map[string]any
		want string // a key the report has
	}{
		{"cpu", nil, "logical_cpus"},
		{"memory", nil, "total_mib"},
		{"disk", map[string]any{"path": dir}, "fstype"},
		{"disk", nil, "fstype"},
		{"network", nil, "interfaces"},
		{"dns", map[string]any{"host": "localhost"}, "addrs"}, // /etc/hosts: no DNS query
	} {
		out, err := r.Run(context.Background(), tc.name, tc.args)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !json.Valid([]byte(out)) || !strings.Contains(out, `"`+tc.want+`"`) {
			t.Errorf("%s: report %s lacks %q", tc.name, out, tc.want)
		}
	}
}

// TestRefused: the agent re-checks the whitelist; nothing outside it runs.
func TestRefused(t *testing.T) {
	t.Parallel()
	ran := false
	r := Runner{Command: func(context.Context, ...string) ([]byte, error) { ran = true; return nil, nil }}
	for _, tc := range []struct {
		name string
		args map[string]any
	}{
		{"run_shell", map[string]any{"command": "id"}},
		{"clear_temp", nil},
		{"services", map[string]any{"name": "cups; rm -rf /"}},
		{"dns", map[string]any{"host": "-oProxyCommand=x"}},
		{"recent_errors", map[string]any{"hours": float64(1000)}},
	} {
		if _, err := r.Run(context.Background(), tc.name, tc.args); !errors.Is(err, policy.ErrToolRefused) {
			t.Errorf("%s %v: %v, want a refusal", tc.name, tc.args, err)
		}
	}
	if ran {
		t.Error("a refused call ran a command")
	}
}

// TestTools: the system tools' argv are built from the table's names and
// validated values only; no printing system is said as such.
func TestTools(t *testing.T) {
	t.Parallel()
	var got [][]string
	r := Runner{Command: func(_ context.Context, argv ...string) ([]byte, error) {
		got = append(got, argv)
		if argv[0] == "lpstat" {
			return nil, errors.ErrUnsupported
		}
		return []byte("line one\nline two\n"), nil
	}}
	for _, c := range []struct {
		name string
		args map[string]any
	}{{"services", map[string]any{"name": "cups.service"}}, {"recent_errors", map[string]any{"hours": float64(3)}}, {"printers", nil}} {
		out, err := r.Run(context.Background(), c.name, c.args)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.name == "printers" && !strings.Contains(out, "no printing system") {
			t.Errorf("printers without CUPS: %s", out)
		}
	}
	want := []string{
		"systemctl show --no-pager --property=Id,ActiveState,SubState,Result -- cups.service",
		"journalctl -p err --since -3h --no-pager -o short-iso -n 50 -q",
		"lpstat -p -o",
	}
	for i, argv := range got {
		if strings.Join(argv, " ") != want[i] {
			t.Errorf("argv %d: %q, want %q", i, argv, want[i])
		}
	}
}
