package inventory

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/wire"
)

// hostTree writes files under a temporary root and returns it.
func hostTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// utmpRecord is one glibc USER_PROCESS utmp record as gopsutil reads it on
// 64-bit x86 and ARM (384 bytes, little endian).
func utmpRecord(user, line, host string, started int32) []byte {
	r := make([]byte, 384)
	binary.LittleEndian.PutUint16(r[0:], 7) // USER_PROCESS
	copy(r[8:40], line)
	copy(r[44:76], user)
	copy(r[76:332], host)
	binary.LittleEndian.PutUint32(r[340:], uint32(started))
	return r
}

func TestOSFactsFromHostTree(t *testing.T) {
	// The kernel prints the network-order address as a host-order number.
	gw := [4]byte{192, 168, 1, 1}
	gwHex := fmt.Sprintf("%08X", binary.NativeEndian.Uint32(gw[:]))
	root := hostTree(t, map[string]string{
		"proc/net/route": routeHeader + "eth0\t00000000\t" + gwHex + "\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
		"proc/net/arp": arpHeader +
			"192.168.1.1      0x1         0x2         aa:bb:cc:00:11:22     *        eth1\n" +
			"192.168.1.1      0x1         0x2         AA:BB:CC:00:11:33     *        eth0\n",
		"sys/class/dmi/id/sys_vendor":   "Dell Inc.\n",
		"sys/class/dmi/id/product_name": "OptiPlex 7090\n",
		// product_serial is a directory: unreadable, so Serial stays empty.
		"sys/class/dmi/id/product_serial/x": "",
		"etc/os-release":                    "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\n",
	})
	var utmp []byte
	utmp = append(utmp, utmpRecord("ops", "pts/0", "203.0.113.9", 10)...)
	utmp = append(utmp, utmpRecord("anna", "tty1", "", 20)...)
	if err := os.MkdirAll(filepath.Join(root, "var/run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/run/utmp"), utmp, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOST_PROC", filepath.Join(root, "proc"))
	t.Setenv("HOST_SYS", filepath.Join(root, "sys"))
	t.Setenv("HOST_ETC", filepath.Join(root, "etc"))
	t.Setenv("HOST_VAR", filepath.Join(root, "var"))

	var got wire.Inventory
	for _, f := range osFacts {
		if err := f.read(t.Context(), &got); err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
	}
	want := wire.Inventory{
		Gateway: "192.168.1.1", GatewayMAC: "aa:bb:cc:00:11:33",
		OSBuild: "12 (bookworm)", LoggedOnUser: "anna",
		Maker: "Dell Inc.", Model: "OptiPlex 7090",
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		got.LoggedOnUser, want.LoggedOnUser = "", "" // the test's utmp layout is that of these two
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("facts (-want +got):\n%s", d)
	}
}

func TestOSFactsAbsent(t *testing.T) {
	root := hostTree(t, map[string]string{
		"proc/net/route": routeHeader, // no default route
		"proc/net/arp":   arpHeader,
	})
	t.Setenv("HOST_PROC", filepath.Join(root, "proc"))
	t.Setenv("HOST_SYS", filepath.Join(root, "sys"))
	t.Setenv("HOST_ETC", filepath.Join(root, "etc"))
	for _, name := range []string{"gateway", "hardware"} {
		var inv wire.Inventory
		for _, f := range osFacts {
			if f.name != name {
				continue
			}
			if err := f.read(t.Context(), &inv); err != nil {
				t.Errorf("%s: %v, want no error for a fact the machine lacks", name, err)
			}
		}
		if d := cmp.Diff(wire.Inventory{}, inv); d != "" {
			t.Errorf("%s filled (-want +got):\n%s", name, d)
		}
	}

	t.Setenv("HOST_PROC", filepath.Join(root, "nothing"))
	var inv wire.Inventory
	if err := readGateway(t.Context(), &inv); err == nil {
		t.Error("readGateway without /proc/net/route: no error")
	}
}

// TestCollectGateway checks the real machine's gateway against ip(8).
func TestCollectGateway(t *testing.T) {
	out, err := exec.Command("ip", "-4", "route", "show", "default").Output()
	if err != nil {
		t.Skipf("ip(8) unavailable: %v", err)
	}
	var wantGW, dev string
	if f := strings.Fields(string(out)); len(f) >= 5 && f[0] == "default" && f[1] == "via" && f[3] == "dev" {
		wantGW, dev = f[2], f[4]
	}
	inv, err := New(Options{}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if inv.Gateway != wantGW {
		t.Errorf("Gateway = %q, ip route says %q", inv.Gateway, wantGW)
	}
	if wantGW == "" {
		return
	}
	neigh, err := exec.Command("ip", "-4", "neigh", "show", wantGW, "dev", dev).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(neigh))
	wantMAC := ""
	if i := slices.Index(f, "lladdr"); i >= 0 && i+1 < len(f) && !slices.Contains(f, "INCOMPLETE") && !slices.Contains(f, "FAILED") {
		wantMAC = strings.ToLower(f[i+1])
	}
	if inv.GatewayMAC != wantMAC {
		t.Errorf("GatewayMAC = %q, ip neigh says %q (%s)", inv.GatewayMAC, wantMAC, strings.TrimSpace(string(neigh)))
	}
}
