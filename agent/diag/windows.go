package diag

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/peerdesk/peerdesk/agent/logs"
	"github.com/peerdesk/peerdesk/agent/services"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Windows' services, recent errors and printers: the same reports as on
// Linux, read through the service manager (agent/services), the Event Log
// (agent/logs) and PowerShell's Get-Printer. Built on every OS so that
// the reports are tested on Linux with the OS set to "windows".

func (r Runner) windows() bool {
	if r.OS != "" {
		return r.OS == "windows"
	}
	return runtime.GOOS == "windows"
}

func (r Runner) serviceManager() services.Manager {
	if r.Services != nil {
		return r.Services
	}
	return services.NewManager("")
}

func (r Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// winServices reports one service, or the services set to start
// automatically that are not running (Windows' nearest to systemd's
// failed units).
func (r Runner) winServices(ctx context.Context, name string) (any, error) {
	m := r.serviceManager()
	if name != "" {
		s, err := m.Get(ctx, name)
		if errors.Is(err, services.ErrNotFound) {
			return map[string]any{"service": name, "error": "no such service"}, nil
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"service": fmt.Sprintf("%s: %s (start: %s)", s.Name, s.State, s.Enabled)}, nil
	}
	list, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	stopped := []string{}
	for _, s := range list {
		if (s.Enabled == "auto" || s.Enabled == "auto (delayed)") && s.State != "running" && len(stopped) < 50 {
			stopped = append(stopped, policy.CapString(fmt.Sprintf("%s (%s): %s", s.Name, s.Description, s.State), 300))
		}
	}
	return map[string]any{"failed": stopped, "meaning": "services set to start automatically that are not running"}, nil
}

// winRecentErrors reports the Event Log's errors (and worse) of the last
// hours, newest first.
func (r Runner) winRecentErrors(ctx context.Context, hours int) (any, error) {
	read := r.Logs
	if read == nil {
		read = func(ctx context.Context, q wire.LogQuery, fn func(wire.LogEntry) error) error {
			return logs.Read(ctx, "", q, fn)
		}
	}
	var out []string
	q := wire.LogQuery{Priority: wire.PriError, Since: r.now().Add(-time.Duration(hours) * time.Hour), Limit: 50}
	err := read(ctx, q, func(e wire.LogEntry) error {
		out = append(out, policy.CapString(fmt.Sprintf("%s %s: %s", e.Time.UTC().Format(time.RFC3339), e.Source, e.Message), 300))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"hours": hours, "errors": out}, nil
}

// winPrinters reports the printers, their status and queued jobs.
func (r Runner) winPrinters(ctx context.Context) (any, error) {
	b, err := r.command(ctx, "powershell", "-NoProfile", "-NonInteractive", "-Command",
		"Get-Printer | ForEach-Object { $_.Name + ' | status: ' + $_.PrinterStatus + ' | jobs: ' + $_.JobCount }")
	if errors.Is(err, errors.ErrUnsupported) {
		return map[string]any{"printing": "the printers cannot be read here (PowerShell is not available)"}, nil
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"printers": lines(b, 50)}, nil
}
