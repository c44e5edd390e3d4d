// Package diag runs the help desk assistant's diagnostics on the agent:
// cpu, memory, disk, network, dns, services, recent_errors and printers,
// the Diagnostics rows of policy's whitelist. Each reads the device (real
// data, through gopsutil where it fits, the system's own tools where not)
// and reports JSON, bounded to wire.MaxAssistOutput. Run checks the call
// against the whitelist again before it runs anything: what the
// coordinator relayed is not trusted further than the table allows.
//
// Where the OS has no such thing (no printing system, no service
// manager), the report says so (errors.ErrUnsupported), never an empty
// success.
package diag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	psnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/peerdesk/peerdesk/agent/services"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Timeout bounds one diagnostic.
const Timeout = 20 * time.Second

// Runner runs diagnostics. The zero value uses the system resolver and
// the system's tools.
type Runner struct {
	// Resolver resolves the dns diagnostic's names; nil is net.DefaultResolver.
	Resolver *net.Resolver
	// Command runs a system tool and returns its output; nil runs it
	// (exec.CommandContext). Tests may inject one.
	Command func(ctx context.Context, argv ...string) ([]byte, error)
	// OS is the system whose way services, recent errors and printers
	// are read ("" is runtime.GOOS): on Windows, the service manager, the
	// Event Log and PowerShell's Get-Printer; elsewhere systemctl,
	// journalctl and lpstat. Tests set "windows" to check that path's
	// reports on Linux.
	OS string
	// Services and Logs are Windows' service manager and Event Log; nil
	// is the agent's own (agent/services, agent/logs).
	Services services.Manager
	Logs     func(ctx context.Context, q wire.LogQuery, fn func(wire.LogEntry) error) error
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Run checks (name, args) against the whitelist and runs the diagnostic;
// it returns its report as JSON. A refused call is a *policy.ToolRefusal
// and runs nothing.
func (r Runner) Run(ctx context.Context, name string, args map[string]any) (string, error) {
	call, err := (policy.Whitelist{}).Check(name, args)
	if err != nil {
		return "", err
	}
	if call.Kind != policy.Diagnostic {
		return "", fmt.Errorf("diag: %q is not a diagnostic", name)
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	var v any
	switch call.Name {
	case "cpu":
		v, err = r.cpu(ctx)
	case "memory":
		v, err = r.memory(ctx)
	case "disk":
		p, _ := call.Args["path"].(string)
		v, err = r.disk(ctx, p)
	case "network":
		v, err = r.network(ctx)
	case "dns":
		h, _ := call.Args["host"].(string)
		v, err = r.dns(ctx, h)
	case "services":
		n, _ := call.Args["name"].(string)
		v, err = r.services(ctx, n)
	case "recent_errors":
		h, ok := call.Args["hours"].(int64)
		if !ok {
			h = 24
		}
		v, err = r.recentErrors(ctx, int(h))
	case "printers":
		v, err = r.printers(ctx)
	default:
		return "", fmt.Errorf("diag: %q: %w", name, errors.ErrUnsupported)
	}
	if err != nil {
		return "", fmt.Errorf("diag: %s: %w", name, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("diag: %s: %w", name, err)
	}
	return policy.CapString(string(b), wire.MaxAssistOutput), nil
}

func (r Runner) command(ctx context.Context, argv ...string) ([]byte, error) {
	if r.Command != nil {
		return r.Command(ctx, argv...)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%s: %w", argv[0], errors.ErrUnsupported)
	}
	return exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
}

type proc struct {
	PID    int32   `json:"pid"`
	Name   string  `json:"name"`
	CPU    float64 `json:"cpu_percent,omitempty"`
	RSSMiB uint64  `json:"rss_mib,omitempty"`
}

// top returns the n processes with the largest key.
func top(ctx context.Context, n int, key func(*process.Process) (proc, float64)) []proc {
	ps, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return nil
	}
	type scored struct {
		p proc
		s float64
	}
	var all []scored
	for _, p := range ps {
		pr, s := key(p)
		all = append(all, scored{pr, s})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].s > all[j].s })
	var out []proc
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, all[i].p)
	}
	return out
}

func (r Runner) cpu(ctx context.Context) (any, error) {
	out := map[string]any{}
	if info, err := cpu.InfoWithContext(ctx); err == nil && len(info) > 0 {
		out["model"] = info[0].ModelName
	}
	n, err := cpu.CountsWithContext(ctx, true)
	if err != nil {
		return nil, err
	}
	out["logical_cpus"] = n
	if l, err := load.AvgWithContext(ctx); err == nil {
		out["load"] = []float64{l.Load1, l.Load5, l.Load15}
	}
	if pct, err := cpu.PercentWithContext(ctx, 200*time.Millisecond, false); err == nil && len(pct) == 1 {
		out["busy_percent"] = round(pct[0])
	}
	out["busiest"] = top(ctx, 5, func(p *process.Process) (proc, float64) {
		name, _ := p.NameWithContext(ctx)
		c, _ := p.CPUPercentWithContext(ctx) // since the process started
		return proc{PID: p.Pid, Name: name, CPU: round(c)}, c
	})
	return out, nil
}

func (r Runner) memory(ctx context.Context) (any, error) {
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"total_mib": vm.Total >> 20, "available_mib": vm.Available >> 20, "used_percent": round(vm.UsedPercent)}
	if sw, err := mem.SwapMemoryWithContext(ctx); err == nil {
		out["swap_total_mib"], out["swap_used_percent"] = sw.Total>>20, round(sw.UsedPercent)
	}
	out["largest"] = top(ctx, 5, func(p *process.Process) (proc, float64) {
		name, _ := p.NameWithContext(ctx)
		mi, err := p.MemoryInfoWithContext(ctx)
		if err != nil {
			return proc{PID: p.Pid, Name: name}, 0
		}
		return proc{PID: p.Pid, Name: name, RSSMiB: mi.RSS >> 20}, float64(mi.RSS)
	})
	return out, nil
}

type usage struct {
	Path        string  `json:"path"`
	FSType      string  `json:"fstype"`
	TotalMiB    uint64  `json:"total_mib"`
	FreeMiB     uint64  `json:"free_mib"`
	UsedPercent float64 `json:"used_percent"`
}

func (r Runner) disk(ctx context.Context, path string) (any, error) {
	if path != "" {
		u, err := disk.UsageWithContext(ctx, path)
		if err != nil {
			return nil, err
		}
		return usage{u.Path, u.Fstype, u.Total >> 20, u.Free >> 20, round(u.UsedPercent)}, nil
	}
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []usage
	for _, p := range parts {
		if u, err := disk.UsageWithContext(ctx, p.Mountpoint); err == nil && u.Total > 0 {
			out = append(out, usage{u.Path, u.Fstype, u.Total >> 20, u.Free >> 20, round(u.UsedPercent)})
		}
	}
	return out, nil
}

func (r Runner) network(ctx context.Context) (any, error) {
	ifs, err := psnet.InterfacesWithContext(ctx)
	if err != nil {
		return nil, err
	}
	type iface struct {
		Name  string   `json:"name"`
		Up    bool     `json:"up"`
		Addrs []string `json:"addrs,omitempty"`
	}
	var out []iface
	for _, i := range ifs {
		it := iface{Name: i.Name, Up: contains(i.Flags, "up")}
		for _, a := range i.Addrs {
			it.Addrs = append(it.Addrs, a.Addr)
		}
		out = append(out, it)
	}
	return map[string]any{"interfaces": out}, nil
}

func (r Runner) dns(ctx context.Context, host string) (any, error) {
	if host == "" {
		return nil, errors.New("no host name")
	}
	res := r.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	start := time.Now()
	addrs, err := res.LookupHost(ctx, host)
	out := map[string]any{"host": host, "ms": time.Since(start).Milliseconds()}
	if err != nil {
		out["error"] = err.Error()
		return out, nil // a failed lookup is the finding, not a failure
	}
	out["addrs"] = addrs
	return out, nil
}

func (r Runner) services(ctx context.Context, name string) (any, error) {
	if r.windows() {
		return r.winServices(ctx, name)
	}
	argv := []string{"systemctl", "list-units", "--type=service", "--state=failed", "--no-pager", "--no-legend", "--plain"}
	if name != "" {
		argv = []string{"systemctl", "show", "--no-pager", "--property=Id,ActiveState,SubState,Result", "--", name}
	}
	b, err := r.command(ctx, argv...)
	if err != nil {
		return nil, err
	}
	if name != "" {
		return map[string]any{"service": strings.TrimSpace(string(b))}, nil
	}
	return map[string]any{"failed": lines(b, 50)}, nil
}

func (r Runner) recentErrors(ctx context.Context, hours int) (any, error) {
	if r.windows() {
		return r.winRecentErrors(ctx, hours)
	}
	b, err := r.command(ctx, "journalctl", "-p", "err", "--since", fmt.Sprintf("-%dh", hours), "--no-pager", "-o", "short-iso", "-n", "50", "-q")
	if err != nil {
		return nil, err
	}
	return map[string]any{"hours": hours, "errors": lines(b, 50)}, nil
}

func (r Runner) printers(ctx context.Context) (any, error) {
	if r.windows() {
		return r.winPrinters(ctx)
	}
	b, err := r.command(ctx, "lpstat", "-p", "-o")
	if errors.Is(err, errors.ErrUnsupported) {
		return map[string]any{"printing": "this computer has no printing system (CUPS is not installed)"}, nil
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"printers": lines(b, 50)}, nil
}

func lines(b []byte, n int) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l = strings.TrimSpace(l); l != "" && len(out) < n {
			out = append(out, policy.CapString(l, 300))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func round(f float64) float64 { return float64(int64(f*10)) / 10 }
