package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"os/user"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/wake"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/wine"
	"github.com/peerdesk/peerdesk/wire"
)

// winLAN is one veth pair the Windows inventory test gives its namespace:
// an address on the near end, a default route through a gateway on its
// subnet with a metric, and the gateway's hardware address in the ARP
// cache (a permanent entry: nothing answers on the far end).
type winLAN struct {
	name, addr, gateway, gatewayMAC string
	metric                          int
}

func (l winLAN) up(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"link", "add", l.name, "type", "veth", "peer", "name", l.name + "p"},
		{"addr", "add", l.addr, "dev", l.name},
		{"link", "set", l.name + "p", "up"},
		{"link", "set", l.name, "up"},
		{"route", "add", "default", "via", l.gateway, "dev", l.name, "metric", fmt.Sprint(l.metric)},
		{"neigh", "replace", l.gateway, "lladdr", l.gatewayMAC, "dev", l.name, "nud", "permanent"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "link", "del", l.name).Run() //nolint:errcheck // best effort
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "link", "del", l.name).CombinedOutput(); err != nil {
			t.Errorf("removing %s: %v: %s", l.name, err, out)
		}
	})
}

// TestWindowsAgentInventory: the cross-compiled agent's hidden `inventory`
// command, run under Wine, reports the Windows facts as Wine gives them:
// the edition and build from the registry (compared with what Wine's own
// `reg query` reads there), the user of the console session (Wine's is the
// Unix user), the last boot, and — on two LANs the test makes, each with a
// default route — the gateway Windows would use (the lower metric) with
// its hardware address from the ARP cache, and the interfaces with their
// subnets, so that the coordinator's Wake-on-LAN decision picks this
// Windows agent as the relay for a sleeping machine on its LAN. Serial,
// maker and model stay empty: Wine builds its SMBIOS table from
// /sys/class/dmi, which this machine does not have (docs/ARCHITECTURE.md,
// "Windows under Wine").
func TestWindowsAgentInventory(t *testing.T) {
	lane := wine.Require(t)
	leak.Check(t)
	if !netns.Inside() {
		t.Fatal("the Windows inventory test must run in the test's own namespace (netns.Main)")
	}
	lan := winLAN{name: "pdwinlan0", addr: "192.168.77.10/24", gateway: "192.168.77.1", gatewayMAC: "02:00:5e:10:00:01", metric: 100}
	wan := winLAN{name: "pdwinwan0", addr: "10.77.0.10/24", gateway: "10.77.0.1", gatewayMAC: "02:00:5e:10:00:02", metric: 600}
	wan.up(t)
	lan.up(t)

	exe := wine.Build(t, "./cmd/peerdesk-agent")
	r := lane.Run(t, "", exe, "inventory")
	t.Logf("peerdesk-agent.exe inventory under Wine: exit %d in %v\nstderr:\n%s", r.Code, r.Took, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("peerdesk-agent.exe inventory exited %d\nstdout:\n%s", r.Code, r.Stdout)
	}
	var inv wire.Inventory
	if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil {
		t.Fatalf("the inventory is not JSON: %v\n%s", err, r.Stdout)
	}
	t.Logf("inventory:\n%s", r.Stdout)

	// The edition and build: what Wine's registry holds, read by Wine's reg.
	reg := regData(t, lane, `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`)
	build := reg["CurrentBuildNumber"]
	if build == "" {
		t.Fatalf("Wine's registry has no CurrentBuildNumber: %v", reg)
	}
	wantBuild := reg["CurrentVersion"] + "." + build // Wine 8.0: no major/minor numbers, no UBR
	if major, ok := reg["CurrentMajorVersionNumber"]; ok {
		wantBuild = fmt.Sprintf("%s.%s.%s", dword(t, major), dword(t, reg["CurrentMinorVersionNumber"]), build)
	}
	if ubr, ok := reg["UBR"]; ok {
		wantBuild += "." + dword(t, ubr)
	}
	if inv.OSBuild != wantBuild {
		t.Errorf("os_build = %q, want %q (from Wine's registry: %v)", inv.OSBuild, wantBuild, reg)
	}
	if want := "Microsoft " + strings.TrimPrefix(reg["ProductName"], "Microsoft "); !strings.HasPrefix(inv.Platform, want) {
		t.Errorf("platform = %q, want the registry's ProductName %q first", inv.Platform, want)
	}

	// The console session's user: Wine runs as the Unix user, in the
	// domain it names after the host.
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(inv.LoggedOnUser, `\`+u.Username) {
		t.Errorf(`logged_on_user = %q, want DOMAIN\%s`, inv.LoggedOnUser, u.Username)
	}
	if inv.LastBoot.IsZero() || inv.LastBoot.After(time.Now()) {
		t.Errorf("last_boot = %v", inv.LastBoot)
	}

	// The gateway Windows routes through, and its hardware address.
	if inv.Gateway != lan.gateway || inv.GatewayMAC != lan.gatewayMAC {
		t.Errorf("gateway = %q (%q), want %q (%q): the default route with the lower metric", inv.Gateway, inv.GatewayMAC, lan.gateway, lan.gatewayMAC)
	}
	var lanIf *wire.NetIf
	for i, n := range inv.Interfaces {
		if slices.Contains(n.Addrs, lan.addr) {
			lanIf = &inv.Interfaces[i]
		}
	}
	if lanIf == nil || lanIf.MAC == "" {
		t.Fatalf("no interface with %s and a hardware address in %+v", lan.addr, inv.Interfaces)
	}

	// So the coordinator can pick this Windows agent to wake a machine on
	// its LAN, and only there.
	windows := wake.FromInventory("windows-relay", true, time.Now(), inv)
	sleeper := wake.Machine{ID: "sleeper", Gateway: lan.gateway, GatewayMAC: lan.gatewayMAC,
		Interfaces: []wire.NetIf{{Name: "eth0", MAC: "02:00:00:00:00:42", Addrs: []string{"192.168.77.42/24"}}}}
	if got, err := wake.PickRelay(sleeper, []wake.Machine{windows}); err != nil || got.ID != windows.ID {
		t.Errorf("PickRelay for a machine on %s = %q, %v; want the Windows agent", lan.addr, got.ID, err)
	}
	elsewhere := sleeper
	elsewhere.GatewayMAC = "02:00:5e:10:00:99" // the same subnet at another site
	if got, err := wake.PickRelay(elsewhere, []wake.Machine{windows}); err == nil {
		t.Errorf("PickRelay for a machine behind another gateway = %q, want none", got.ID)
	}
}

// regValue matches one line of `reg query`'s output: name, type, data.
var regValue = regexp.MustCompile(`^\s+(\S+)\s+(REG_\w+)\s*(.*?)\s*$`)

// regData returns the data of key's values as Wine's reg.exe prints them.
func regData(t *testing.T, lane wine.Lane, key string) map[string]string {
	t.Helper()
	r := lane.Run(t, "", "reg", "query", key)
	if r.Code != 0 {
		t.Fatalf("reg query %s exited %d\n%s%s", key, r.Code, r.Stdout, r.Stderr)
	}
	vals := map[string]string{}
	for _, line := range strings.Split(strings.ReplaceAll(r.Stdout, "\r", ""), "\n") {
		if m := regValue.FindStringSubmatch(line); m != nil {
			vals[m[1]] = m[3]
		}
	}
	return vals
}

// dword turns reg's "0xa" into "10".
func dword(t *testing.T, s string) string {
	t.Helper()
	var v uint32
	if _, err := fmt.Sscanf(s, "0x%x", &v); err != nil {
		t.Fatalf("DWORD %q: %v", s, err)
	}
	return fmt.Sprint(v)
}

// TestWindowsWakeRelay: the Windows relay's send path, the wol package's
// own test built for Windows and run under Wine (agent/wol
// TestWindowsRelaySendsUDP) on a LAN the test makes: the magic packet for
// the sleeping machine's MAC arrives on that LAN as a UDP broadcast to
// port 9, captured on the far end of the veth. (Windows has no raw
// Ethernet; the Linux relay's EtherType 0x0842 frame is not sent.)
func TestWindowsWakeRelay(t *testing.T) {
	wine.Require(t)
	if !netns.Inside() {
		t.Fatal("the Windows wake test must run in the test's own namespace (netns.Main)")
	}
	lan := winLAN{name: "pdwinlan0", addr: "192.168.77.10/24", gateway: "192.168.77.1", gatewayMAC: "02:00:5e:10:00:01", metric: 100}
	lan.up(t)
	capture := listen(t, lan.name+"p")
	t.Setenv("PEERDESK_WOL_TEST_SUBNET", "192.168.77.0/24") // read by the test under Wine
	runWindowsTests(t, "./agent/wol", "^TestWindowsRelaySendsUDP$", "TestWindowsRelaySendsUDP")
	sleeper := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	wait.For(t, "the magic packet for the sleeper on the LAN as a UDP broadcast", func() bool {
		kind, mac, ok := capture.next()
		return ok && kind == "udp" && slices.Equal(mac, sleeper)
	})
}
