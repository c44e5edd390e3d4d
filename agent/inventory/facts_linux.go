package inventory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/shirou/gopsutil/v4/host"

	"github.com/peerdesk/peerdesk/wire"
)

// osFacts on Linux: like gopsutil, the sources honour HOST_PROC, HOST_SYS
// and HOST_ETC (a containerised agent looking at its host).
var osFacts = []osFact{
	{name: "gateway", read: readGateway},
	{name: "os build", read: readOSBuild},
	{name: "logged-on user", read: readLoggedOnUser},
	{name: "hardware", optional: true, read: readHardware},
}

// maxFactFile bounds what is read of any one /proc, /sys or /etc file.
const maxFactFile = 1 << 20

// hostPath is def (or the directory env names) joined with elem.
func hostPath(env, def string, elem ...string) string {
	dir := os.Getenv(env)
	if dir == "" {
		dir = def
	}
	return filepath.Join(append([]string{dir}, elem...)...)
}

// readFact reads at most maxFactFile bytes of path.
func readFact(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFactFile))
}

// readGateway fills Gateway from /proc/net/route and GatewayMAC from the
// ARP cache (/proc/net/arp); no default route leaves both empty.
func readGateway(_ context.Context, inv *wire.Inventory) error {
	routes, err := readFact(hostPath("HOST_PROC", "/proc", "net", "route"))
	if err != nil {
		return err
	}
	r, err := parseDefaultRoute(routes, binary.NativeEndian)
	if err != nil || !r.Gateway.IsValid() {
		return err
	}
	inv.Gateway = r.Gateway.String()
	arp, err := readFact(hostPath("HOST_PROC", "/proc", "net", "arp"))
	if err != nil {
		return fmt.Errorf("arp cache: %w", err)
	}
	inv.GatewayMAC = parseARP(arp, r.Gateway, r.Iface)
	return nil
}

// readOSBuild fills OSBuild from os-release; a system without one is not
// an error.
func readOSBuild(_ context.Context, inv *wire.Inventory) error {
	var errs []error
	for _, path := range []string{hostPath("HOST_ETC", "/etc", "os-release"), "/usr/lib/os-release"} {
		data, err := readFact(path)
		if err == nil {
			inv.OSBuild = osBuild(parseOSRelease(data))
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readLoggedOnUser fills LoggedOnUser from utmp (or logind, where utmp is
// no longer kept); neither existing means nobody is logged on.
func readLoggedOnUser(ctx context.Context, inv *wire.Inventory) error {
	users, err := host.UsersWithContext(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	inv.LoggedOnUser = loggedOnUser(users)
	return nil
}

// readHardware fills Serial, Maker and Model from the DMI table. Fields
// that cannot be read (no DMI on this machine, the serial is root-only)
// stay empty; that is never an error.
func readHardware(_ context.Context, inv *wire.Inventory) error {
	for file, field := range map[string]*string{
		"product_serial": &inv.Serial,
		"sys_vendor":     &inv.Maker,
		"product_name":   &inv.Model,
	} {
		if data, err := readFact(hostPath("HOST_SYS", "/sys", "class", "dmi", "id", file)); err == nil {
			*field = dmiValue(data)
		}
	}
	return nil
}
