package diag

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/services"
	"github.com/peerdesk/peerdesk/wire"
)

// scm is a Windows service manager's answers as agent/services reports
// them (its Windows code is vetted for Windows and run under Wine by
// e2e.TestWindowsService; here the reports built from its answers).
type scm []wire.Service

func (m scm) List(context.Context) ([]wire.Service, error) { return m, nil }
func (m scm) Get(_ context.Context, name string) (wire.Service, error) {
	for _, s := range m {
		if strings.EqualFold(s.Name, name) {
			return s, nil
		}
	}
	return wire.Service{}, services.ErrNotFound
}
func (scm) Do(context.Context, string, string) (string, error) { return "", errors.ErrUnsupported }

// TestWindowsReports: on Windows the services, recent_errors and printers
// diagnostics read the service manager, the Event Log and Get-Printer,
// not systemctl, journalctl and lpstat.
func TestWindowsReports(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var asked wire.LogQuery
	var argv []string
	r := Runner{
		OS: "windows",
		Services: scm{
			{Name: "Spooler", Description: "Print Spooler", State: "stopped", Enabled: "auto"},
			{Name: "Dhcp", Description: "DHCP Client", State: "running", Enabled: "auto"},
			{Name: "wuauserv", Description: "Windows Update", State: "stopped", Enabled: "manual"},
			{Name: "BITS", Description: "Background Intelligent Transfer Service", State: "stopped", Enabled: "auto (delayed)"},
		},
		Logs: func(_ context.Context, q wire.LogQuery, fn func(wire.LogEntry) error) error {
			asked = q
			return fn(wire.LogEntry{Time: now.Add(-time.Hour), Priority: wire.PriError, Source: "Service Control Manager", Message: "The Print Spooler service terminated unexpectedly."})
		},
		Command: func(_ context.Context, a ...string) ([]byte, error) {
			argv = a
			if a[0] != "powershell" {
				return nil, errors.New("not a Windows tool: " + a[0])
			}
			return []byte("HP LaserJet | status: Error | jobs: 3\r\nMicrosoft Print to PDF | status: Normal | jobs: 0\r\n"), nil
		},
		Now: func() time.Time { return now },
	}
	report := func(name string, args map[string]any) map[string]any {
		t.Helper()
		out, err := r.Run(context.Background(), name, args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s: %v: %s", name, err, out)
		}
		return m
	}

	svc := report("services", nil)
	failed, _ := svc["failed"].([]any)
	if len(failed) != 2 || !strings.HasPrefix(failed[0].(string), "Spooler (Print Spooler): stopped") || !strings.HasPrefix(failed[1].(string), "BITS") {
		t.Errorf("services: %v; want the stopped automatic ones, Spooler and BITS", svc)
	}
	if one := report("services", map[string]any{"name": "spooler"}); one["service"] != "Spooler: stopped (start: auto)" {
		t.Errorf("services spooler: %v", one)
	}
	if none := report("services", map[string]any{"name": "nosuch"}); none["error"] != "no such service" {
		t.Errorf("services nosuch: %v", none)
	}

	errs := report("recent_errors", map[string]any{"hours": int64(6)})
	if got, _ := errs["errors"].([]any); len(got) != 1 || !strings.Contains(got[0].(string), "Service Control Manager: The Print Spooler service terminated") {
		t.Errorf("recent_errors: %v", errs)
	}
	if asked.Priority != wire.PriError || !asked.Since.Equal(now.Add(-6*time.Hour)) || asked.Limit != 50 {
		t.Errorf("the Event Log was asked %+v; want errors and worse of the last 6 h, 50 at most", asked)
	}

	pr := report("printers", nil)
	if got, _ := pr["printers"].([]any); len(got) != 2 || got[0] != "HP LaserJet | status: Error | jobs: 3" {
		t.Errorf("printers: %v (ran %v)", pr, argv)
	}
}
