// Command peerdesk-viewer is the technician's side: log in, list machines,
// and reach an agent directly over the overlay.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/viewer/webui"
	"github.com/peerdesk/peerdesk/wire"
)

var version = "dev"

func main() {
	cli.SetMemoryLimit(cli.DefaultMemoryLimit)
	cli.Main("peerdesk-viewer", commands())
}

// commands is peerdesk-viewer's dispatch table.
func commands() []cli.Command {
	return []cli.Command{
		{Name: "login", Usage: "log in to a coordinator (checks its CA pin, then asks for the password: PEERDESK_PASSWORD, the terminal, or one line of standard input)", Run: login},
		{Name: "machines", Usage: "list enrolled machines", Run: machines},
		{Name: "ui", Usage: "serve the technician's session page on 127.0.0.1 (remote screens)", Run: ui},
		{Name: "sysinfo", Usage: "fetch a machine's system information peer to peer: sysinfo <device-id>", Run: sysinfo},
		{Name: "power", Usage: "reboot a machine or change how it boots: power [-confirm] [-keep-safe-mode] <device-id> <action>", Run: powerCmd},
		{Name: "shell", Usage: "a shell on a machine, or one command with its exit status: shell [flags] <device-id> [-- command...]", Run: shellCmd},
		{Name: "files", Usage: "browse, download and upload a machine's files peer to peer, with progress and resume: files ls|get|put", Sub: filesCommands()},
		{Name: "wake", Usage: "wake an offline machine through an online agent on its LAN: wake <device-id>", Run: wakeCmd},
		{Name: "version", Usage: "print the version", Run: func(_ context.Context, args []string) error {
			if err := cli.Flags("peerdesk-viewer", "version").Parse(args); err != nil {
				return err
			}
			fmt.Println(version)
			return nil
		}},
	}
}

func defaultState() string {
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "peerdesk-viewer")
	}
	return "peerdesk-viewer"
}

func login(ctx context.Context, args []string) error {
	fs := cli.Flags("peerdesk-viewer", "login")
	var o viewer.LoginOptions
	fs.StringVar(&o.StateDir, "state", defaultState(), "state directory")
	fs.StringVar(&o.CoordinatorURL, "coordinator", "", "coordinator URL")
	fs.StringVar(&o.Pin, "pin", "", "the coordinator's CA pin, as 'peerdesk serve' prints it")
	fs.StringVar(&o.Username, "user", "", "user name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.CoordinatorURL == "" || o.Pin == "" || o.Username == "" {
		return fmt.Errorf("-coordinator, -pin and -user are required")
	}
	// The pin is checked before the password is asked for: a wrong pin
	// or address fails at once, and no password is typed for a
	// coordinator that is not the one meant.
	if _, err := trust.FetchCA(ctx, strings.TrimRight(o.CoordinatorURL, "/"), o.Pin); err != nil {
		return err
	}
	pw, err := cli.Password("password: ", "PEERDESK_PASSWORD")
	if err != nil {
		return err
	}
	o.Password = pw
	o.Code = func(context.Context) (string, error) {
		return cli.Password("code from your authenticator app (or a recovery code): ", "PEERDESK_TOTP_CODE")
	}
	s, err := viewer.Login(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("logged in as %s (%s) until %s\n", s.Username, s.Role, s.Expires.Local().Format("2006-01-02 15:04"))
	return nil
}

func open(args []string, name string, extra func(fs *flag.FlagSet), operands ...string) (*viewer.Viewer, []string, error) {
	fs := cli.Flags("peerdesk-viewer", name, operands...)
	state := fs.String("state", defaultState(), "state directory")
	if extra != nil {
		extra(fs)
	}
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	log, err := cli.Logger(*level)
	if err != nil {
		return nil, nil, err
	}
	v, err := viewer.Open(viewer.Config{StateDir: *state, Logger: log, Terminal: os.Stderr})
	return v, fs.Args(), err
}

func machines(ctx context.Context, args []string) error {
	v, _, err := open(args, "machines", nil)
	if err != nil {
		return err
	}
	defer v.Close()
	devs, err := v.Devices(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tHOST\tOS\tONLINE\tOVERLAY IP")
	for _, d := range devs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", d.ID, d.Hostname, d.OS, d.Online, d.OverlayIP)
	}
	return w.Flush()
}

func sysinfo(ctx context.Context, args []string) error {
	var repeat int
	var every time.Duration
	v, rest, err := open(args, "sysinfo", func(fs *flag.FlagSet) {
		fs.IntVar(&repeat, "repeat", 1, "ask this many times over one session grant, printing a line each")
		fs.DurationVar(&every, "every", time.Second, "pause between repeated calls")
	}, "<device-id>")
	if err != nil {
		return err
	}
	defer v.Close()
	if len(rest) != 1 {
		return fmt.Errorf("usage: peerdesk-viewer sysinfo [flags] <device-id>")
	}
	g, err := v.Grant(ctx, rest[0], wire.CapSysInfo)
	if err != nil {
		return err
	}
	for i := range repeat {
		if i > 0 {
			time.Sleep(every)
		}
		var inv wire.Inventory
		if err := v.Call(ctx, g.OverlayIP, g.Grant, wire.PeerPathSysInfo, &inv); err != nil {
			return err
		}
		if repeat > 1 {
			fmt.Printf("%s  %s answered peer to peer: %s %s, %d cores\n", time.Now().Format("15:04:05"), inv.Hostname, inv.Platform, inv.OSVersion, inv.CPUCores)
			continue
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(inv); err != nil {
			return err
		}
	}
	return nil
}

func ui(ctx context.Context, args []string) error {
	var listen string
	v, _, err := open(args, "ui", func(fs *flag.FlagSet) {
		fs.StringVar(&listen, "listen", "127.0.0.1:7071", "loopback address of the session page")
	})
	if err != nil {
		return err
	}
	defer v.Close()
	s, err := webui.Start(ctx, webui.Config{Viewer: v, Listen: listen})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("session page: %s\n", s.URL())
	fmt.Println("Connect on the dashboard opens sessions here in one click (it leads to http://127.0.0.1:7071 unless\n" +
		"the coordinator was started with -viewer-url); or open the address above once in your browser.\n" +
		"Leave this running while you work; Ctrl-C stops it.")
	<-ctx.Done()
	return nil
}

func wakeCmd(ctx context.Context, args []string) error {
	v, rest, err := open(args, "wake", nil, "<device-id>")
	if err != nil {
		return err
	}
	defer v.Close()
	if len(rest) != 1 {
		return fmt.Errorf("usage: peerdesk-viewer wake [flags] <device-id>")
	}
	relay, res, err := v.Wake(ctx, rest[0])
	if err != nil {
		return err
	}
	fmt.Printf("asked %s to wake %s: %s\n", relay, rest[0], strings.Join(res.Sent, "; "))
	return nil
}

func powerCmd(ctx context.Context, args []string) error {
	var req wire.PowerRequest
	v, rest, err := open(args, "power", func(fs *flag.FlagSet) {
		fs.BoolVar(&req.Confirm, "confirm", false, "confirm an emergency reboot (unsaved work is lost)")
		fs.BoolVar(&req.KeepSafeMode, "keep-safe-mode", false, "keep booting into Safe Mode until the action normal")
	}, "<device-id>", "<"+strings.Join(powerActions(), "|")+">")
	if err != nil {
		return err
	}
	defer v.Close()
	if len(rest) != 2 {
		return fmt.Errorf("usage: peerdesk-viewer power [flags] <device-id> <%s>", strings.Join(powerActions(), "|"))
	}
	req.Action = wire.PowerAction(rest[1])
	res, err := v.Power(ctx, rest[0], req)
	if err != nil {
		return err
	}
	for _, s := range res.Steps {
		fmt.Println(s)
	}
	return nil
}

// powerActions names the actions of `peerdesk-viewer power`.
func powerActions() []string {
	names := make([]string, len(wire.PowerActions))
	for i, a := range wire.PowerActions {
		names[i] = string(a)
	}
	return names
}
