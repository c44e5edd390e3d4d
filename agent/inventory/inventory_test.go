package inventory

import (
	"context"
	"encoding/hex"
	"errors"
	stdnet "net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/net"

	"github.com/peerdesk/peerdesk/wire"
)

func TestCollect(t *testing.T) {
	clock := time.Date(2026, 11, 21, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	c := New(Options{AgentVersion: "1.2.3", Now: func() time.Time { return clock }})
	inv, err := c.Collect(t.Context())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}

	hostname, err := os.Hostname()
	if err != nil {
		t.Fatalf("os.Hostname: %v", err)
	}
	type ident struct {
		Hostname, OS, AgentVersion string
		Collected                  time.Time
	}
	want := ident{Hostname: hostname, OS: runtime.GOOS, AgentVersion: "1.2.3", Collected: clock}
	got := ident{Hostname: inv.Hostname, OS: inv.OS, AgentVersion: inv.AgentVersion, Collected: inv.Collected}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("identity fields (-want +got):\n%s", d)
	}

	for name, v := range map[string]string{"Platform": inv.Platform, "KernelVersion": inv.KernelVersion, "Arch": inv.Arch} {
		if v == "" {
			t.Errorf("%s is empty", name)
		}
	}
	if inv.RAMBytes == 0 {
		t.Error("RAMBytes = 0")
	}
	// gopsutil counts the online CPUs; runtime.NumCPU counts those this
	// process may run on (its affinity mask), a subset of them.
	if inv.CPUCores < runtime.NumCPU() {
		t.Errorf("CPUCores = %d, want >= runtime.NumCPU() = %d", inv.CPUCores, runtime.NumCPU())
	}
	if inv.LastBoot.Location() != time.UTC {
		t.Errorf("LastBoot %v is not UTC", inv.LastBoot)
	}
	if y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); !inv.LastBoot.After(y2k) || !inv.LastBoot.Before(time.Now()) {
		t.Errorf("LastBoot = %v, want between 2000 and now", inv.LastBoot)
	}

	t.Run("disks", func(t *testing.T) {
		if len(inv.Disks) > maxDisks {
			t.Errorf("%d disks, want <= %d", len(inv.Disks), maxDisks)
		}
		if !slices.IsSortedFunc(inv.Disks, func(a, b wire.Disk) int { return strings.Compare(a.Mount, b.Mount) }) {
			t.Errorf("disks not sorted by mount: %+v", inv.Disks)
		}
		root := slices.IndexFunc(inv.Disks, func(d wire.Disk) bool { return d.Mount == "/" })
		if root < 0 {
			t.Fatalf("no disk mounted on /: %+v", inv.Disks)
		}
		if d := inv.Disks[root]; d.TotalBytes == 0 || d.FreeBytes > d.TotalBytes || !realFS(d.FSType) {
			t.Errorf("root disk = %+v, want a real file system with 0 < free <= total", d)
		}
		for i := 1; i < len(inv.Disks); i++ {
			if inv.Disks[i].Mount == inv.Disks[i-1].Mount {
				t.Errorf("mount %q listed twice", inv.Disks[i].Mount)
			}
		}
	})

	t.Run("interfaces", func(t *testing.T) {
		if len(inv.Interfaces) > maxIfs {
			t.Errorf("%d interfaces, want <= %d", len(inv.Interfaces), maxIfs)
		}
		if !slices.IsSortedFunc(inv.Interfaces, func(a, b wire.NetIf) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("interfaces not sorted by name: %+v", inv.Interfaces)
		}
		for _, n := range inv.Interfaces {
			ifi, err := stdnet.InterfaceByName(n.Name)
			if err != nil {
				t.Errorf("interface %q: %v", n.Name, err)
				continue
			}
			if ifi.Flags&stdnet.FlagLoopback != 0 {
				t.Errorf("loopback interface %q reported", n.Name)
			}
			if n.MAC != strings.ToLower(n.MAC) || (n.MAC == "" && len(n.Addrs) == 0) {
				t.Errorf("interface %+v: want a lower-case MAC or an address", n)
			}
		}
	})
}

func TestCollectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := New(Options{}).Collect(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Collect(canceled) error = %v, want context.Canceled", err)
	}
}

func TestMachineID(t *testing.T) {
	a, err := MachineID(t.Context())
	if err != nil {
		t.Fatalf("MachineID: %v", err)
	}
	if b, err := hex.DecodeString(a); err != nil || len(a) != 64 || len(b) != 32 {
		t.Errorf("MachineID = %q, want 64 hex characters", a)
	}
	b, err := MachineID(t.Context())
	if err != nil {
		t.Fatalf("second MachineID: %v", err)
	}
	if a != b {
		t.Errorf("MachineID not stable: %q then %q", a, b)
	}
}

func TestRealFS(t *testing.T) {
	for _, tt := range []struct {
		fstype string
		want   bool
	}{
		{"ext4", true},
		{"xfs", true},
		{"btrfs", true},
		{"zfs", true},
		{"apfs", true},
		{"NTFS", true},
		{"vfat", true},
		{"fuseblk", true},
		{"overlay", true}, // a container's root
		{"", false},
		{"none", false},
		{"proc", false},
		{"sysfs", false},
		{"tmpfs", false},
		{"devtmpfs", false},
		{"devpts", false},
		{"mqueue", false},
		{"squashfs", false},
		{"cgroup", false},
		{"cgroup2", false},
		{"devfs", false},
		{"autofs", false},
		{"nfs4", false},
		{"CIFS", false},
		{"fuse.sshfs", false},
		{"fuse.gvfsd-fuse", false},
	} {
		if got := realFS(tt.fstype); got != tt.want {
			t.Errorf("realFS(%q) = %v, want %v", tt.fstype, got, tt.want)
		}
	}
}

func TestBound(t *testing.T) {
	long := strings.Repeat("a", maxString)
	for _, tt := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"short", "host-1", "host-1"},
		{"exactly max", long, long},
		{"one over", long + "b", long},
		{"far over", strings.Repeat("x", 1<<20), strings.Repeat("x", maxString)},
		{"rune across the limit", long[:maxString-1] + "é", long[:maxString-1]},
		{"rune at the limit", long[:maxString-2] + "é", long[:maxString-2] + "é"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
		{"invalid utf-8 grows past max", "\xff" + long[:maxString-1], "\uFFFD" + long[:maxString-3]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := bound(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("bound (-want +got):\n%s", d)
			}
			if len(got) > maxString || !utf8.ValidString(got) {
				t.Errorf("bound returned %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
		})
	}
}

func TestRealPartitions(t *testing.T) {
	p := func(mount, fstype string) disk.PartitionStat {
		return disk.PartitionStat{Device: "/dev/x", Mountpoint: mount, Fstype: fstype}
	}
	many := make([]disk.PartitionStat, 0, maxDisks+10)
	for i := range maxDisks + 10 {
		many = append(many, p("/m/"+string(rune('A'+i)), "ext4"))
	}
	for _, tt := range []struct {
		name string
		in   []disk.PartitionStat
		want []disk.PartitionStat
	}{
		{"none", nil, []disk.PartitionStat{}},
		{
			"filters and sorts",
			[]disk.PartitionStat{p("/var", "xfs"), p("/proc", "proc"), p("/", "ext4"), p("/run", "tmpfs"), p("", "ext4")},
			[]disk.PartitionStat{p("/", "ext4"), p("/var", "xfs")},
		},
		{
			"mounted over: the last mount wins",
			[]disk.PartitionStat{p("/data", "ext4"), p("/", "ext4"), p("/data", "xfs")},
			[]disk.PartitionStat{p("/", "ext4"), p("/data", "xfs")},
		},
		{"bounded", many, many[:maxDisks]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, realPartitions(tt.in)); d != "" {
				t.Errorf("realPartitions (-want +got):\n%s", d)
			}
		})
	}
}

func TestNetIfs(t *testing.T) {
	ifs := net.InterfaceStatList{
		{Name: "wlan0", HardwareAddr: "AA:BB:CC:DD:EE:FF", Flags: []string{"up", "broadcast"},
			Addrs: net.InterfaceAddrList{{Addr: "192.168.1.20/24"}, {Addr: "fe80::1/64"}}},
		{Name: "lo", Flags: []string{"up", "loopback"}, Addrs: net.InterfaceAddrList{{Addr: "127.0.0.1/8"}}},
		{Name: "dummy0", Flags: []string{"broadcast"}},
		{Name: "eth0", HardwareAddr: "00:11:22:33:44:55", Flags: []string{"broadcast"}},
		{Name: "tun0", Flags: []string{"up", "pointtopoint"}, Addrs: net.InterfaceAddrList{{Addr: "100.64.0.1/32"}}},
	}
	want := []wire.NetIf{
		{Name: "eth0", MAC: "00:11:22:33:44:55", Addrs: []string{}},
		{Name: "tun0", Addrs: []string{"100.64.0.1/32"}},
		{Name: "wlan0", MAC: "aa:bb:cc:dd:ee:ff", Addrs: []string{"192.168.1.20/24", "fe80::1/64"}},
	}
	if d := cmp.Diff(want, netIfs(ifs)); d != "" {
		t.Errorf("netIfs (-want +got):\n%s", d)
	}

	t.Run("bounded", func(t *testing.T) {
		var addrs net.InterfaceAddrList
		for range maxAddrs + 5 {
			addrs = append(addrs, net.InterfaceAddr{Addr: "10.0.0.1/8"})
		}
		var many net.InterfaceStatList
		for i := range maxIfs + 5 {
			many = append(many, net.InterfaceStat{Name: string(rune('A' + i)), Addrs: addrs})
		}
		got := netIfs(many)
		if len(got) != maxIfs || got[0].Name != "A" || len(got[0].Addrs) != maxAddrs {
			t.Errorf("netIfs kept %d interfaces, the first %q with %d addresses; want %d, \"A\", %d",
				len(got), got[0].Name, len(got[0].Addrs), maxIfs, maxAddrs)
		}
	})
}
