package main

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/tailscale/wireguard-go/device"
)

// An idle agent's memory is mostly pages start-up touched and nothing
// uses again: the executable's code and read-only data (on Linux with
// large page-cache folios and a long read-ahead, every page start-up
// touched maps a large block around it: 27 MB of a 39 MB binary stayed
// resident; after a trim, idle work brings back ~14 MB of it) and heap
// freed since. Once the agent has
// settled, and again every trimEvery while no screen session is live, it
// hands them back: freed heap to the OS (debug.FreeOSMemory), the pages
// of the overlay's free packet buffers (device.ReleasePools) and the
// executable's clean file pages to the kernel (trimExecutable); code
// pages fault back in as they are used. docs/BENCHMARKS.md has the
// figures.
const (
	trimSettle = 10 * time.Second // after the agent is up: start-up is over
	trimEvery  = 10 * time.Minute // then, while no screen session is live
)

// trimWhileIdle trims after the agent is up and settled, then every
// trimEvery while no screen session is live, until ctx ends.
func trimWhileIdle(ctx context.Context, a *agent.Agent, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-a.Ready():
	}
	t := time.NewTimer(trimSettle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !a.ScreenLive() {
			debug.FreeOSMemory()
			device.ReleasePools() // the overlay's free packet buffers (third_party/wireguard-go)
			if err := trimExecutable(); errors.Is(err, errors.ErrUnsupported) {
				return // freed heap is still returned by the runtime's scavenger
			} else if err != nil {
				log.Debug("returning the executable's pages", "err", err)
			}
		}
		t.Reset(trimEvery)
	}
}
