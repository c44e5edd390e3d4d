package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/agent/power"
	"github.com/peerdesk/peerdesk/agent/scheme"
	"github.com/peerdesk/peerdesk/agent/service"
	"github.com/peerdesk/peerdesk/agent/state"
	"github.com/peerdesk/peerdesk/cli"
)

// underServiceManager runs a command through the service package, so that
// `peerdesk-agent run` answers the service manager when it is started as
// a service (Windows kills services that do not).
func underServiceManager(run func(context.Context, []string) error) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 && cli.IsHelp(args[0]) {
			return run(ctx, args) // help, not a service
		}
		return service.Run(ctx, service.Config{}, func(ctx context.Context) error { return run(ctx, args) })
	}
}

// installService installs the agent as a system service that runs
// `peerdesk-agent run -state DIR` with the run flags given here.
func installService(ctx context.Context, args []string) error {
	fs := cli.Flags("peerdesk-agent", "install")
	stateDir := fs.String("state", agent.DefaultStateDir(), "state directory")
	// The flags of `run` that make sense for a service, passed through.
	fs.Duration("heartbeat", 0, "heartbeat interval (default 30s)")
	fs.String("display", "", "X11 display to show ($DISPLAY if empty)")
	fs.Bool("unattended", false, "connect without asking the user (consent off)")
	fs.Bool("no-screen", false, "offer no screen sessions (headless machine)")
	fs.Bool("view-only", false, "screen sessions show the screen but inject no mouse or keyboard")
	fs.String("consent-rules", "", "JSON file of which capabilities need the user's answer (see run)")
	fs.String("log-level", "info", "debug, info, warn or error")
	fs.Int64("memory-limit", cli.DefaultMemoryLimit>>20, "soft memory limit in MiB (0: none; GOMEMLIMIT wins)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	dir, err := filepath.Abs(*stateDir)
	if err != nil {
		return err
	}
	runArgs := []string{"run", "-state", dir}
	var visitErr error
	fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		if f.Name == "consent-rules" && v != "" {
			// The service runs from another directory.
			abs, err := filepath.Abs(v)
			v, visitErr = abs, errors.Join(visitErr, err)
		}
		if f.Name != "state" {
			runArgs = append(runArgs, "-"+f.Name+"="+v)
		}
	})
	if visitErr != nil {
		return visitErr
	}
	// H2: the state directory is private to the service (SYSTEM and
	// Administrators only on Windows) before the service can write to it.
	if err := state.Protect(dir); err != nil {
		return err
	}
	if _, err := state.Load(dir); err != nil {
		fmt.Fprintf(os.Stderr, "note: %s holds no enrollment yet (%v); run `peerdesk-agent enroll -state %s …` before starting the service\n", dir, err, dir)
	}
	m, err := service.New(service.Config{Args: runArgs})
	if err != nil {
		return err
	}
	if err := m.Install(); err != nil {
		return err
	}
	// Windows: let the agent start in Safe Mode, so a technician who
	// booted the machine there can reach it.
	if err := power.Execute(ctx, power.NewRunner(), nil, power.SafeBootRegistration(runtime.GOOS, service.Name)); err != nil {
		return fmt.Errorf("the service is installed but will not start in Safe Mode: %w", err)
	}
	fmt.Printf("installed the %s service (%s) running: %s %q; start it with: peerdesk-agent start\n",
		service.Name, m.Platform(), "peerdesk-agent", runArgs)
	registerScheme(ctx)
	return nil
}

// registerScheme makes the installed agent open the portal's peerdesk://
// links. The service works without it, so a failure is a note, not an
// error: the portal's download still works.
func registerScheme(ctx context.Context) {
	exe, err := os.Executable()
	if err == nil {
		var where string
		// Installing the service takes root on Linux: register for every
		// user then (Windows registers machine-wide either way).
		where, err = scheme.Register(ctx, scheme.Config{Exe: exe, System: os.Geteuid() == 0})
		if err == nil {
			fmt.Printf("peerdesk:// links from the support portal now open this agent (%s)\n", where)
			return
		}
	}
	fmt.Fprintf(os.Stderr, "note: peerdesk:// links from the support portal will not open this agent: %v\n", err)
}

func uninstallService(ctx context.Context, args []string) error {
	if err := cli.Flags("peerdesk-agent", "uninstall").Parse(args); err != nil {
		return err
	}
	m, err := service.New(service.Config{})
	if err != nil {
		return err
	}
	if err := m.Uninstall(); err != nil {
		return err
	}
	if err := power.Execute(ctx, power.NewRunner(), nil, power.SafeBootUnregistration(runtime.GOOS, service.Name)); err != nil {
		return err
	}
	if err := scheme.Unregister(ctx, scheme.Config{System: os.Geteuid() == 0}); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		fmt.Fprintf(os.Stderr, "note: the peerdesk:// link handler is left in place: %v\n", err)
	}
	fmt.Printf("uninstalled the %s service; its state directory is left in place\n", service.Name)
	return nil
}

// serviceControl returns the command that starts or stops the service.
func serviceControl(name string, do func(*service.Manager) error, want service.Status) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if err := cli.Flags("peerdesk-agent", name).Parse(args); err != nil {
			return err
		}
		m, err := service.New(service.Config{})
		if err != nil {
			return err
		}
		if err := do(m); err != nil {
			return err
		}
		// Service managers answer before the state settles.
		for range 20 {
			if st, err := m.Status(); err == nil && st == want {
				fmt.Println(st)
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
		st, err := m.Status()
		if err != nil {
			return err
		}
		return fmt.Errorf("the service is %s", st)
	}
}

func serviceStatus(_ context.Context, args []string) error {
	if err := cli.Flags("peerdesk-agent", "status").Parse(args); err != nil {
		return err
	}
	m, err := service.New(service.Config{})
	if err != nil {
		return err
	}
	st, err := m.Status()
	if err != nil {
		return err
	}
	fmt.Println(st)
	return nil
}
