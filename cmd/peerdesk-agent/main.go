// Command peerdesk-agent enrolls a machine with a peerdesk coordinator and
// runs the agent that technicians connect to.
package main

import (
	"context"
	"fmt"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/cli"
)

var version = "dev"

func main() {
	cli.Main("peerdesk-agent", []cli.Command{
		{Name: "enroll", Usage: "enroll this machine with a coordinator, once", Run: enroll},
		{Name: "run", Usage: "run the agent", Run: run},
		{Name: "version", Usage: "print the version", Run: func(context.Context, []string) error { fmt.Println(version); return nil }},
	})
}

func enroll(ctx context.Context, args []string) error {
	fs := cli.Flags("peerdesk-agent", "enroll")
	var o agent.EnrollOptions
	fs.StringVar(&o.StateDir, "state", agent.DefaultStateDir(), "state directory")
	fs.StringVar(&o.CoordinatorURL, "coordinator", "", "coordinator URL, e.g. https://10.0.0.5:8443")
	fs.StringVar(&o.Token, "token", "", "enrollment token (pde1-…) from your admin")
	fs.StringVar(&o.Hostname, "hostname", "", "name to enroll as (default: this machine's host name)")
	if err := fs.Parse(args); err != nil {
		return err
	}
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
	level := fs.String("log-level", "info", "debug, info, warn or error")
	memMiB := fs.Int64("memory-limit", cli.DefaultMemoryLimit>>20, "soft memory limit in MiB (0: none; GOMEMLIMIT wins)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cli.SetMemoryLimit(*memMiB << 20)
	log, err := cli.Logger(*level)
	if err != nil {
		return err
	}
	cfg.Logger = log
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
