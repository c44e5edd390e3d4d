// Command peerdesk-agent enrolls a machine with a peerdesk coordinator and
// runs the agent that technicians connect to.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/jezek/xgb"
	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/agent/service"
	"github.com/peerdesk/peerdesk/agent/state"
	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/supportpack"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

var version = "dev"

func main() {
	cli.SetMemoryLimit(cli.DefaultMemoryLimit)
	// The X protocol library logs to stderr on its own; the agent reports
	// display problems through its own errors instead.
	xgb.Logger = log.New(io.Discard, "", 0)
	// A one-time support agent carries its code in a trailer and runs with
	// no arguments (the end user double-clicks it).
	if cfg, err := supportpack.ReadSelf(); err == nil && len(os.Args) == 1 {
		cli.MainWith("peerdesk-support", []cli.Command{{Name: "support", Run: func(ctx context.Context, _ []string) error {
			return agent.RunSupport(ctx, agent.SupportOptions{Config: cfg, Version: version, Logger: quietLogger()})
		}}}, "support")
		return
	}
	// peerdesk://session/<code>: the portal launched the installed agent.
	if len(os.Args) == 2 && strings.HasPrefix(os.Args[1], "peerdesk://") {
		cli.MainWith("peerdesk-agent", []cli.Command{{Name: "open", Run: openURL}}, "open", os.Args[1])
		return
	}
	// The hidden commands: inventory (inventory.go) and the Windows
	// service's session helper (helper.go).
	if len(os.Args) >= 2 {
		for _, c := range []cli.Command{inventoryCommand, helperCommand} {
			if os.Args[1] == c.Name {
				cli.MainWith("peerdesk-agent", []cli.Command{c}, os.Args[1:]...)
				return
			}
		}
	}
	cli.Main("peerdesk-agent", commands())
}

// commands is peerdesk-agent's dispatch table.
func commands() []cli.Command {
	return []cli.Command{
		{Name: "enroll", Usage: "enroll this machine with a coordinator, once", Run: enroll},
		{Name: "run", Usage: "run the agent", Run: underServiceManager(run)},
		{Name: "reconfigure", Usage: "change what the machine reports about itself (-name, -tag, -custom…); a running agent reports it (its company and site come from its enrollment token)", Run: reconfigure},
		{Name: "install", Usage: "install the agent as a system service (flags as for run)", Run: installService},
		{Name: "uninstall", Usage: "stop and remove the system service", Run: uninstallService},
		{Name: "start", Usage: "start the system service", Run: serviceControl("start", (*service.Manager).Start, service.Running)},
		{Name: "stop", Usage: "stop the system service", Run: serviceControl("stop", (*service.Manager).Stop, service.Stopped)},
		{Name: "status", Usage: "print whether the service is running, stopped or not installed", Run: serviceStatus},
		{Name: "version", Usage: "print the version", Run: func(_ context.Context, args []string) error {
			if err := cli.Flags("peerdesk-agent", "version").Parse(args); err != nil {
				return err
			}
			fmt.Println(version)
			return nil
		}},
	}
}

func enroll(ctx context.Context, args []string) error {
	fs := cli.Flags("peerdesk-agent", "enroll")
	var o agent.EnrollOptions
	fs.StringVar(&o.StateDir, "state", agent.DefaultStateDir(), "state directory")
	fs.StringVar(&o.CoordinatorURL, "coordinator", "", "coordinator URL, e.g. https://10.0.0.5:8443")
	fs.StringVar(&o.Token, "token", "", "enrollment token (pde1-…) from your admin")
	fs.StringVar(&o.Hostname, "hostname", "", "name to enroll as (default: this machine's host name)")
	setMetadata := metadataFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	setMetadata(&o.Metadata)
	if o.CoordinatorURL == "" || o.Token == "" {
		return fmt.Errorf("-coordinator and -token are required")
	}
	st, err := agent.Enroll(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("enrolled as %s (%s); start the agent with: peerdesk-agent run -state %s\n", st.DeviceID, st.Hostname, o.StateDir)
	return nil
}

func run(ctx context.Context, args []string) error {
	fs := cli.Flags("peerdesk-agent", "run")
	cfg := agent.Config{Version: version}
	fs.StringVar(&cfg.StateDir, "state", agent.DefaultStateDir(), "state directory")
	fs.DurationVar(&cfg.HeartbeatEvery, "heartbeat", 0, "heartbeat interval (default 30s)")
	fs.StringVar(&cfg.Display, "display", "", "X11 display to show ($DISPLAY if empty)")
	fs.BoolVar(&cfg.Unattended, "unattended", false, "connect without asking the user (consent off)")
	fs.BoolVar(&cfg.NoScreen, "no-screen", false, "offer no screen sessions (headless machine)")
	fs.BoolVar(&cfg.ViewOnly, "view-only", false, "screen sessions show the screen but inject no mouse or keyboard")
	fs.StringVar(&cfg.FilesRoot, "files-root", "", "folder technicians see as / with the files capability (default: the whole machine)")
	fs.DurationVar(&cfg.ShellIdle, "shell-idle", 0, "end a shell with no input or output for this long (default 15m; a technician may ask for less)")
	fs.DurationVar(&cfg.ShellMax, "shell-max", 0, "end any shell after this long (default 4h; a technician may ask for less)")
	fs.StringVar(&cfg.Hotkey, "hotkey", "", `key that takes a screenshot ticket, e.g. F8, Ctrl+F9 (default F8; "off": none)`)
	fs.StringVar(&cfg.Contacts, "contacts", "", "how to reach the help desk, in words, shown when it cannot be reached")
	rulesFile := fs.String("consent-rules", "", "JSON file of which capabilities need the user's answer, per company and device; it wins over the coordinator's rules (default: the coordinator's rules; without them all when attended, none when -unattended)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	memMiB := fs.Int64("memory-limit", cli.DefaultMemoryLimit>>20, "soft memory limit in MiB (0: none; GOMEMLIMIT wins)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback address (e.g. 127.0.0.1:6061); off by default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr); err != nil {
			return err
		}
	}
	cli.SetMemoryLimit(*memMiB << 20)
	if *memMiB == 0 {
		debug.SetMemoryLimit(math.MaxInt64)
	}
	log, err := cli.Logger(*level)
	if err != nil {
		return err
	}
	cfg.Logger = log
	if *rulesFile != "" {
		b, err := os.ReadFile(*rulesFile)
		if err != nil {
			return fmt.Errorf("-consent-rules: %w", err)
		}
		rules, err := policy.ParseConsentRules(b)
		if err != nil {
			return fmt.Errorf("-consent-rules %s: %w", *rulesFile, err)
		}
		cfg.ConsentRules = &rules
	}
	if !cfg.NoScreen {
		desk, browser, stopDesk, err := serviceDesktop(ctx, cfg.ViewOnly, log)
		if err != nil {
			return err
		}
		defer stopDesk()
		cfg.Desktop, cfg.Browser = desk, browser
	}
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Go(func() { trimWhileIdle(ctx, a, log) })
	return a.Run(ctx)
}

// openURL handles peerdesk://session/<code>: an enrolled agent's binary
// runs a one-time support session with that code, trusting the coordinator
// it is enrolled with.
func openURL(ctx context.Context, args []string) error {
	code, ok := strings.CutPrefix(args[0], "peerdesk://session/")
	code = strings.Trim(code, "/")
	if !ok || len(code) != 6 {
		return fmt.Errorf("not a peerdesk session link: %q", args[0])
	}
	st, err := state.Load(agent.DefaultStateDir())
	if err != nil {
		return err
	}
	ca, err := st.CA()
	if err != nil {
		return err
	}
	return agent.RunSupport(ctx, agent.SupportOptions{
		Config:  wire.SupportConfig{Code: code, CoordinatorURL: st.CoordinatorURL, Pin: trust.Pin(ca)},
		Version: version, Logger: quietLogger(),
	})
}

// quietLogger logs warnings and errors, or what PEERDESK_LOG_LEVEL asks for.
func quietLogger() *slog.Logger {
	if l, err := cli.Logger(os.Getenv("PEERDESK_LOG_LEVEL")); err == nil && os.Getenv("PEERDESK_LOG_LEVEL") != "" {
		return l
	}
	l, _ := cli.Logger("warn") //nolint:errcheck // a constant level
	return l
}
