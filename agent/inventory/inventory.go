// Package inventory collects the machine inventory an agent reports to the
// coordinator (wire.Inventory) and derives the machine identifier it enrolls
// with.
//
// # Overview
//
// A Collector reads the host through gopsutil: host, CPU, memory, mounted
// file systems and network interfaces. On Linux it also reads the default
// gateway and its hardware address (/proc/net/route, /proc/net/arp), the OS
// build (os-release), the logged-on user (utmp or logind) and the serial
// number, maker and model (DMI). On Windows it reads the edition and the
// build with its update revision (the CurrentVersion registry key), the
// default gateway (GetIpForwardTable2, with the interface metrics) and its
// hardware address (the ARP cache), the user of the console session, else
// of another session (WTS), and the serial number, maker and model (the
// SMBIOS table). Elsewhere those fields stay empty.
// Collection is best effort: a part that cannot be read is logged and left
// empty, and Collect fails only when nothing at all could be read.
//
// Every value that comes from the operating system is bounded (string length,
// list length) so that a hostile or broken OS cannot bloat the report.
//
// # Usage
//
//	c := inventory.New(inventory.Options{AgentVersion: version, Logger: log})
//	inv, err := c.Collect(ctx)
//
//	id, err := inventory.MachineID(ctx) // for wire.EnrollRequest.MachineID
package inventory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"

	"github.com/peerdesk/peerdesk/wire"
)

// Bounds on what the OS can put into a report.
const (
	maxString = 256 // bytes in any string field
	maxDisks  = 64  // entries in Inventory.Disks
	maxIfs    = 64  // entries in Inventory.Interfaces
	maxAddrs  = 64  // addresses per interface
)

// Options configures a Collector.
type Options struct {
	AgentVersion string           // copied into every inventory
	Now          func() time.Time // injected clock; nil means time.Now
	Logger       *slog.Logger     // nil discards
}

// Collector gathers inventory. The zero value is not usable; use New.
type Collector struct {
	version string
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Collector configured by o.
func New(o Options) *Collector {
	c := &Collector{version: bound(o.AgentVersion), now: o.Now, log: o.Logger}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Collect returns the machine's inventory. Partial failures (one disk
// unreadable, no CPU model on some VM) are logged and leave that field empty;
// Collect returns an error only if nothing could be read about the host at
// all, or if ctx ends before collection finishes.
func (c *Collector) Collect(ctx context.Context) (wire.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return wire.Inventory{}, fmt.Errorf("inventory: %w", err)
	}
	inv := wire.Inventory{
		OS:           runtime.GOOS, // what host.Info reports as OS
		AgentVersion: c.version,
		Collected:    c.now().UTC(),
	}
	var errs []error
	// part records the outcome of reading one part of the inventory.
	part := func(name string, err error) {
		if err != nil {
			c.log.Warn("inventory: part unreadable", "part", name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	parts := 0 // parts attempted; len(errs) of them failed

	parts++
	hostname, err := os.Hostname()
	inv.Hostname = bound(hostname)
	part("hostname", err)

	parts++
	platform, _, version, err := host.PlatformInformationWithContext(ctx)
	inv.Platform, inv.OSVersion = bound(platform), bound(version)
	part("platform", err)

	parts++
	kernel, err := host.KernelVersionWithContext(ctx)
	inv.KernelVersion = bound(kernel)
	part("kernel version", err)

	parts++
	arch, err := host.KernelArch()
	inv.Arch = bound(arch)
	part("kernel arch", err)

	parts++
	inv.LastBoot, err = bootTime(ctx)
	part("boot time", err)

	parts++
	inv.CPUModel, err = c.cpuModel(ctx)
	part("cpu model", err)

	parts++
	inv.CPUCores, err = cpu.CountsWithContext(ctx, true)
	part("cpu count", err)

	parts++
	if vm, err := mem.VirtualMemoryWithContext(ctx); err != nil {
		part("memory", err)
	} else {
		inv.RAMBytes = vm.Total
	}

	parts++
	inv.Disks, err = c.disks(ctx)
	part("disks", err)

	parts++
	ifs, err := net.InterfacesWithContext(ctx)
	inv.Interfaces = netIfs(ifs)
	part("interfaces", err)

	for _, f := range osFacts {
		err := f.read(ctx, &inv)
		if f.optional {
			if err != nil {
				c.log.Debug("inventory: optional part unreadable", "part", f.name, "err", err)
			}
			continue
		}
		parts++
		part(f.name, err)
	}

	if err := ctx.Err(); err != nil {
		return wire.Inventory{}, fmt.Errorf("inventory: %w", err)
	}
	if len(errs) == parts {
		return wire.Inventory{}, fmt.Errorf("inventory: nothing could be read: %w", errors.Join(errs...))
	}
	return inv, nil
}

// bootTime returns the last boot as a UTC time.
func bootTime(ctx context.Context) (time.Time, error) {
	secs, err := host.BootTimeWithContext(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if secs == 0 || secs > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("implausible boot time %d", secs)
	}
	return time.Unix(int64(secs), 0).UTC(), nil
}

// cpuModel returns the first CPU model name the OS reports. A machine that
// names no model (some VMs and ARM boards) is not an error.
func (c *Collector) cpuModel(ctx context.Context) (string, error) {
	infos, err := cpu.InfoWithContext(ctx)
	if err != nil {
		return "", err
	}
	for _, in := range infos {
		if in.ModelName != "" {
			return bound(in.ModelName), nil
		}
	}
	c.log.Info("inventory: the OS names no CPU model")
	return "", nil
}

// netIfs converts interfaces for the report: no loopback, none with neither
// a hardware address nor an address, sorted by name, at most maxIfs.
func netIfs(ifs net.InterfaceStatList) []wire.NetIf {
	var out []wire.NetIf
	for _, in := range ifs {
		if slices.Contains(in.Flags, "loopback") || (in.HardwareAddr == "" && len(in.Addrs) == 0) {
			continue
		}
		n := wire.NetIf{
			Name:  bound(in.Name),
			MAC:   bound(strings.ToLower(in.HardwareAddr)),
			Addrs: make([]string, 0, min(len(in.Addrs), maxAddrs)),
		}
		for _, a := range in.Addrs[:min(len(in.Addrs), maxAddrs)] {
			n.Addrs = append(n.Addrs, bound(a.Addr))
		}
		out = append(out, n)
	}
	slices.SortStableFunc(out, func(a, b wire.NetIf) int { return cmp.Compare(a.Name, b.Name) })
	if len(out) > maxIfs {
		out = out[:maxIfs]
	}
	return out
}

// bound returns s cut to at most maxString bytes at a rune boundary, with
// invalid UTF-8 replaced by U+FFFD, so the value survives JSON unchanged.
func bound(s string) string {
	if len(s) <= maxString && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s { // invalid bytes arrive as utf8.RuneError
		if b.Len()+utf8.RuneLen(r) > maxString {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
