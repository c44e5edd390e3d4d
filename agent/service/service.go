// Package service runs the agent as an operating-system service (U1): it
// installs, removes, starts, stops and reports the service through
// github.com/kardianos/service, and runs the agent under the service
// manager.
//
// # What gets installed
//
// One service named "peerdesk-agent" that runs `peerdesk-agent run -state
// DIR …` with the run flags given at install time.
//
//   - systemd: a unit written from [SystemdScript] (the library's own
//     template engine renders it): Wants/After network-online.target,
//     Restart=always with RestartSec=5 and no start limit, so the agent comes
//     back after any crash or kill; WantedBy=multi-user.target.
//   - Windows: start type automatic, no delayed start, recovery action
//     "restart" after 5 s on every failure.
//   - launchd: RunAtLoad and KeepAlive.
//
// # Privileges
//
// The service runs as root (LocalSystem on Windows) and the unit adds no
// sandboxing. That is what the agent's job needs, not a default left in
// place: it injects input into any user's session, captures the screen,
// reboots the machine, changes boot settings (Safe Mode), opens shells as
// the logged-in user and reads and writes files where the technician is
// allowed to. Hardening options such as NoNewPrivileges or ProtectSystem
// would break those capabilities; what a technician may do is decided by
// the session grant checked in agent/gate, not by the unit.
//
// # Usage
//
//	m, err := service.New(service.Config{Args: []string{"run", "-state", dir}})
//	err = m.Install()
//	err = m.Start()
//	st, err := m.Status() // service.Running, Stopped or NotInstalled
//
// and in `peerdesk-agent run`, so that the Windows service manager gets its
// answers:
//
//	err := service.Run(ctx, service.Config{}, agentRun)
//
// # Windows
//
// Run answers the service manager with a handler of its own (the library's,
// plus one case): when the agent ends on its own it reports SERVICE_STOPPED
// with a service-specific error before the process exits, and Install turns
// on recovery for such non-crash failures, so the manager restarts the
// agent either way. A process started by services.exe counts as a service
// in any session (Wine runs services in session 1): see startedBySCM.
package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"text/template"

	ksvc "github.com/kardianos/service"
)

// Service identity.
const (
	Name        = "peerdesk-agent"
	DisplayName = "peerdesk agent"
	Description = "peerdesk remote-support agent: lets this organisation's technicians reach this machine over its private overlay."
)

// RestartDelay is how long a service manager waits before restarting the
// agent after it died (systemd RestartSec, Windows recovery delay).
const RestartDelay = "5s"

// SystemdScript is the systemd unit template, in the syntax of the
// library's template engine (keys as in its built-in systemdScript). It is
// the built-in one with a short RestartSec, no start limit and a wait for
// the network, which the agent needs to reach its coordinator.
const SystemdScript = `[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if WorkingDirectory}}WorkingDirectory={{WorkingDirectory | cmdEscape}}
{{end}}{{if UserName}}User={{UserName}}
{{end}}Restart={{Restart}}
RestartSec=5
TimeoutStopSec=20
{{range EnvVars}}{{.}}
{{end}}
[Install]
WantedBy=multi-user.target
`

// Status is a service's state.
type Status int

// Service states.
const (
	NotInstalled Status = iota
	Stopped
	Running
)

func (s Status) String() string {
	switch s {
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	default:
		return "not installed"
	}
}

// ErrNotInstalled means the service is not installed.
var ErrNotInstalled = errors.New("service: not installed")

// Config says which service to manage. The zero value is the agent's
// service running the current executable without arguments.
type Config struct {
	// Name is the service name; Name if empty. Tests use throwaway names.
	Name string
	// Executable is the program the service runs; the current executable
	// if empty. It must be an absolute path.
	Executable string
	// Args follow the executable, e.g. run -state /var/lib/peerdesk-agent.
	Args []string
}

func (c Config) name() string {
	if c.Name == "" {
		return Name
	}
	return c.Name
}

// kardianos returns the library configuration for c: everything the
// service managers are told is decided here, for every platform.
func (c Config) kardianos() *ksvc.Config {
	return &ksvc.Config{
		Name:        c.name(),
		DisplayName: DisplayName,
		Description: Description,
		Executable:  c.Executable,
		Arguments:   append([]string(nil), c.Args...),
		Option: ksvc.KeyValue{
			// systemd
			"SystemdScript": SystemdScript,
			"Restart":       "always",
			"LogOutput":     false, // stderr goes to the journal
			// Windows
			"StartType":              "automatic",
			"DelayedAutoStart":       false,
			"OnFailure":              "restart",
			"OnFailureDelayDuration": RestartDelay,
			"OnFailureResetPeriod":   3600,
			// launchd
			"RunAtLoad": true,
			"KeepAlive": true,
		},
	}
}

// Manager controls one installed (or to be installed) service.
type Manager struct {
	cfg Config
	svc ksvc.Service
}

// New returns a manager for the service cfg names, on the service system
// the library detected (systemd, Windows SCM, launchd, …).
func New(cfg Config) (*Manager, error) {
	s, err := ksvc.New(&program{}, cfg.kardianos())
	if err != nil {
		return nil, fmt.Errorf("service.New: %w", err)
	}
	return &Manager{cfg: cfg, svc: s}, nil
}

// Platform names the service system in use, e.g. "linux-systemd".
func (m *Manager) Platform() string { return m.svc.Platform() }

// Install registers the service to start at boot. It does not start it.
func (m *Manager) Install() error {
	if err := m.svc.Install(); err != nil {
		return fmt.Errorf("service.Install %s: %w", m.cfg.name(), err)
	}
	if err := afterInstall(m.cfg.name()); err != nil {
		return fmt.Errorf("service.Install %s: %w", m.cfg.name(), err)
	}
	return nil
}

// Uninstall stops the service if it runs and removes it.
func (m *Manager) Uninstall() error {
	st, err := m.Status()
	if errors.Is(err, ErrNotInstalled) || (err == nil && st == NotInstalled) {
		return fmt.Errorf("service.Uninstall %s: %w", m.cfg.name(), ErrNotInstalled)
	}
	if st == Running {
		if err := m.svc.Stop(); err != nil {
			return fmt.Errorf("service.Uninstall %s: stop: %w", m.cfg.name(), err)
		}
	}
	if err := m.svc.Uninstall(); err != nil {
		return fmt.Errorf("service.Uninstall %s: %w", m.cfg.name(), err)
	}
	return nil
}

// Start starts the installed service.
func (m *Manager) Start() error {
	if err := m.svc.Start(); err != nil {
		return fmt.Errorf("service.Start %s: %w", m.cfg.name(), err)
	}
	return nil
}

// Stop stops the service.
func (m *Manager) Stop() error {
	if err := m.svc.Stop(); err != nil {
		return fmt.Errorf("service.Stop %s: %w", m.cfg.name(), err)
	}
	return nil
}

// Status reports whether the service runs. A service that is not installed
// is NotInstalled with a nil error.
func (m *Manager) Status() (Status, error) {
	st, err := m.svc.Status()
	switch {
	case errors.Is(err, ksvc.ErrNotInstalled):
		return NotInstalled, nil
	case err != nil:
		return NotInstalled, fmt.Errorf("service.Status %s: %w", m.cfg.name(), err)
	case st == ksvc.StatusRunning:
		return Running, nil
	case st == ksvc.StatusStopped:
		return Stopped, nil
	}
	return NotInstalled, fmt.Errorf("service.Status %s: unknown state", m.cfg.name())
}

// SystemdUnit renders the systemd unit Install writes for cfg on a systemd
// machine: the same template (SystemdScript), the same keys and values and
// the same cmd/cmdEscape quoting as the library (kardianos/service v1.3.0,
// (*systemd).Install). The test checks both against each other, so a
// library upgrade that renders differently fails it.
func SystemdUnit(cfg Config) (string, error) {
	kc := cfg.kardianos()
	path := kc.Executable
	if path == "" {
		p, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("service.SystemdUnit: %w", err)
		}
		path = p
	}
	restart, ok := kc.Option["Restart"].(string)
	if !ok {
		restart = "always"
	}
	data := map[string]any{
		"Description":       kc.Description,
		"Path":              path,
		"Name":              kc.Name,
		"Dependencies":      kc.Dependencies,
		"Arguments":         kc.Arguments,
		"ChRoot":            kc.ChRoot,
		"WorkingDirectory":  kc.WorkingDirectory,
		"UserName":          kc.UserName,
		"ReloadSignal":      "",
		"PIDFile":           "",
		"LogDirectory":      "/var/log",
		"OutputFileSupport": "",
		"LimitNOFILE":       "",
		"Restart":           restart,
		"SuccessExitStatus": "",
		"EnvVars":           []string(nil),
	}
	// The library's engine has bare keys ({{Path}}); text/template reads
	// them as functions, which gives the same output for these templates.
	funcs := template.FuncMap{
		"cmd":       func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` },
		"cmdEscape": func(s string) string { return strings.ReplaceAll(s, " ", `\x20`) },
	}
	for k, v := range data {
		funcs[k] = func() any { return v }
	}
	t, err := template.New("systemd").Funcs(funcs).Parse(SystemdScript)
	if err != nil {
		return "", fmt.Errorf("service.SystemdUnit: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("service.SystemdUnit: %w", err)
	}
	return b.String(), nil
}

// Run runs fn, the agent, until ctx ends. Under a service manager it runs
// fn through the library so the manager gets its start and stop answers
// (Windows needs them: a service that does not answer is killed after 30 s)
// and a stop request cancels fn's context. Run returns fn's error; when fn
// ends on its own, Run returns at once so the process exits and the manager
// restarts it. From a terminal Run just calls fn.
func Run(ctx context.Context, cfg Config, fn func(context.Context) error) error {
	if !underManager() {
		return fn(ctx)
	}
	p := &program{parent: ctx, fn: fn, exited: make(chan struct{})}
	kc := cfg.kardianos()
	// Where the library waits for a signal (systemd, launchd), it waits for
	// ctx (cancelled on SIGTERM by the caller) or for fn to end instead.
	kc.Option["RunWait"] = func() {
		select {
		case <-ctx.Done():
		case <-p.exited:
		}
	}
	loop, err := serve(p, kc)
	if err != nil {
		return fmt.Errorf("service.Run: %w", err)
	}
	return p.run(loop)
}

// program is the library's view of the agent: Start launches fn, Stop
// cancels it and waits for it to end.
type program struct {
	parent context.Context
	fn     func(context.Context) error

	mu       sync.Mutex
	cancel   context.CancelFunc
	stopping bool
	err      error
	exited   chan struct{} // closed when fn has returned
	// reports: the serve loop itself tells the manager that fn ended on
	// its own, and returns once it has (Windows: SERVICE_STOPPED with an
	// error); run then waits for it.
	reports bool
}

// run runs the service loop (serve: the library's Run, or on Windows our
// handler) and returns when the manager stopped the service or fn ended on
// its own. In the second case it waits for the loop only where the loop
// reports the end (p.reports); elsewhere the loop is left blocked: the
// process is about to exit so that the manager restarts it.
func (p *program) run(serve func() error) error {
	served := make(chan error, 1)
	go func() { served <- serve() }()
	select {
	case err := <-served:
		return errors.Join(err, p.result())
	case <-p.exited:
		p.mu.Lock()
		stopping := p.stopping
		p.mu.Unlock()
		if stopping {
			return errors.Join(<-served, p.result())
		}
		if p.reports {
			<-served // the manager has been told; its answer is not the point
		}
		if err := p.result(); err != nil || p.parent.Err() != nil {
			return err
		}
		return errors.New("service.Run: the agent stopped on its own")
	}
}

// fail records err, from starting or stopping p, as the run's result.
func (p *program) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = errors.Join(p.err, err)
}

func (p *program) result() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Start implements the library's Interface; it must not block.
func (p *program) Start(ksvc.Service) error {
	if p.fn == nil {
		return errors.New("service: nothing to run (a manager, not a runner)")
	}
	ctx, cancel := context.WithCancel(p.parent)
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
	go func() {
		err := p.fn(ctx)
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return nil
}

// Stop implements the library's Interface: it cancels fn and waits.
func (p *program) Stop(ksvc.Service) error {
	p.mu.Lock()
	p.stopping = true
	cancel := p.cancel
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-p.exited
	return nil
}

// UnderManager reports whether this process was started by the system's
// service manager (the Windows SCM, systemd, launchd) rather than from a
// terminal.
func UnderManager() bool { return underManager() }
