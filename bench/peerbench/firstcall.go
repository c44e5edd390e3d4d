package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/viewer"
	"github.com/peerdesk/peerdesk/wire"
)

// firstCall logs a technician in -n times, each time as a fresh overlay
// node, and measures how long Up takes and how long after Up the first peer
// call to the device answers (grant request included, and the call alone).
// Logins are paced to stay inside the coordinator's per-address login limit.
func firstCall(ctx context.Context, args []string) error {
	fs := cli.Flags("peerbench", "firstcall")
	url := fs.String("coordinator", "", "coordinator URL")
	pin := fs.String("pin", "", "CA pin")
	user := fs.String("user", "", "technician")
	device := fs.String("device", "", "device id")
	n := fs.Int("n", 20, "iterations")
	pace := fs.Duration("pace", 6500*time.Millisecond, "pause between logins after the first 4")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var up, afterUp, call []time.Duration
	for i := range *n {
		if i >= 4 {
			time.Sleep(*pace)
		}
		dir, err := os.MkdirTemp("", "peerbench-viewer-")
		if err != nil {
			return err
		}
		if _, err := viewer.Login(ctx, viewer.LoginOptions{StateDir: dir, CoordinatorURL: *url, Pin: *pin, Username: *user, Password: os.Getenv("PEERDESK_PASSWORD")}); err != nil {
			return err
		}
		v, err := viewer.Open(viewer.Config{StateDir: dir})
		if err != nil {
			return err
		}
		t0 := time.Now()
		if _, err := v.Node(ctx); err != nil {
			return err
		}
		t1 := time.Now()
		g, err := v.Grant(ctx, *device, wire.CapSysInfo)
		if err != nil {
			return err
		}
		t2 := time.Now()
		var inv wire.Inventory
		if err := v.Call(ctx, g.OverlayIP, g.Grant, wire.PeerPathSysInfo, &inv); err != nil {
			return err
		}
		t3 := time.Now()
		up, afterUp, call = append(up, t1.Sub(t0)), append(afterUp, t3.Sub(t1)), append(call, t3.Sub(t2))
		v.Close()
		os.RemoveAll(filepath.Clean(dir))
		fmt.Fprintf(os.Stderr, "iteration %d: up %v, first call after up %v (call alone %v)\n", i, t1.Sub(t0), t3.Sub(t1), t3.Sub(t2))
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d.Microseconds())/1000) }
	result("n", *n,
		"up_p50_ms", ms(percentile(up, .5)), "up_p95_ms", ms(percentile(up, .95)),
		"firstcall_after_up_p50_ms", ms(percentile(afterUp, .5)), "firstcall_after_up_p95_ms", ms(percentile(afterUp, .95)),
		"call_alone_p50_ms", ms(percentile(call, .5)), "call_alone_p95_ms", ms(percentile(call, .95)))
	return nil
}
