package inventory

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fwdRow is one row of a MIB_IPFORWARD_TABLE2 to encode (fwdTable).
type fwdRow struct {
	ifIndex  uint32
	dest     string // "0.0.0.0/0"; an IPv6 prefix gives an AF_INET6 row
	nextHop  string
	metric   uint32
	loopback bool
}

// fwdTable encodes rows at the C layout's offsets, as GetIpForwardTable2
// returns them on x86 and x64.
func fwdTable(rows ...fwdRow) []byte {
	b := make([]byte, fwdTableRows+len(rows)*fwdRowSize)
	binary.LittleEndian.PutUint32(b, uint32(len(rows)))
	sockaddr := func(dst []byte, a netip.Addr) {
		if a.Is4() {
			binary.LittleEndian.PutUint16(dst, afInet)
			copy(dst[sockaddrInAddr:], a.AsSlice())
			return
		}
		binary.LittleEndian.PutUint16(dst, 23) // AF_INET6
		copy(dst[8:], a.AsSlice())             // sin6_addr, after family, port and flow info
	}
	for i, r := range rows {
		row := b[fwdTableRows+i*fwdRowSize:][:fwdRowSize]
		binary.LittleEndian.PutUint64(row, 0x0006000000000000|uint64(r.ifIndex)) // InterfaceLuid, unread
		binary.LittleEndian.PutUint32(row[fwdRowIfIndex:], r.ifIndex)
		p := netip.MustParsePrefix(r.dest)
		sockaddr(row[fwdRowDest:], p.Addr())
		row[fwdRowDestLen] = byte(p.Bits())
		sockaddr(row[fwdRowNextHop:], netip.MustParseAddr(r.nextHop))
		binary.LittleEndian.PutUint32(row[fwdRowMetric:], r.metric)
		if r.loopback {
			row[fwdRowLoopback] = 1
		}
	}
	return b
}

func route(ifIndex uint32, dest, hop string, metric uint32) winRoute {
	return winRoute{IfIndex: ifIndex, Dest: netip.MustParsePrefix(dest), NextHop: netip.MustParseAddr(hop), Metric: metric}
}

func TestParseForwardTable2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data []byte
		want []winRoute
		err  error
	}{
		{name: "empty table", data: fwdTable()},
		{name: "a typical machine", data: fwdTable(
			fwdRow{ifIndex: 12, dest: "0.0.0.0/0", nextHop: "192.168.1.1", metric: 0},
			fwdRow{ifIndex: 12, dest: "192.168.1.0/24", nextHop: "0.0.0.0", metric: 256},
			fwdRow{ifIndex: 1, dest: "127.0.0.0/8", nextHop: "0.0.0.0", metric: 256, loopback: true},
			fwdRow{ifIndex: 12, dest: "::/0", nextHop: "fe80::1", metric: 0},
		), want: []winRoute{
			route(12, "0.0.0.0/0", "192.168.1.1", 0),
			route(12, "192.168.1.0/24", "0.0.0.0", 256),
		}},
		{name: "a prefix length past 32 is skipped", data: func() []byte {
			b := fwdTable(fwdRow{ifIndex: 3, dest: "10.0.0.0/8", nextHop: "10.0.0.1"}, fwdRow{ifIndex: 4, dest: "0.0.0.0/0", nextHop: "10.0.0.1", metric: 5})
			b[fwdTableRows+fwdRowDestLen] = 33
			return b
		}(), want: []winRoute{route(4, "0.0.0.0/0", "10.0.0.1", 5)}},
		{name: "trailing bytes are ignored", data: append(fwdTable(fwdRow{ifIndex: 2, dest: "0.0.0.0/0", nextHop: "10.1.1.1"}), 0xff, 0xff),
			want: []winRoute{route(2, "0.0.0.0/0", "10.1.1.1", 0)}},
		{name: "shorter than its count", data: fwdTable(fwdRow{ifIndex: 2, dest: "0.0.0.0/0", nextHop: "10.1.1.1"})[:fwdTableRows+fwdRowSize-1], err: errNotRouteTable2},
		{name: "a count past the bound", data: binary.LittleEndian.AppendUint32(nil, maxRouteRows+1), err: errNotRouteTable2},
		{name: "a huge count", data: binary.LittleEndian.AppendUint32(make([]byte, 0, 8), 0xffffffff), err: errNotRouteTable2},
		{name: "too short for a count", data: []byte{1, 0, 0}, err: errNotRouteTable2},
		{name: "no bytes", data: nil, err: errNotRouteTable2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseForwardTable2(tc.data)
			if !errors.Is(err, tc.err) {
				t.Fatalf("parseForwardTable2 error = %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("parseForwardTable2 (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseForwardTable2(f *testing.F) {
	f.Add(fwdTable(
		fwdRow{ifIndex: 12, dest: "0.0.0.0/0", nextHop: "192.168.1.1"},
		fwdRow{ifIndex: 12, dest: "192.168.1.0/24", nextHop: "0.0.0.0", metric: 256},
		fwdRow{ifIndex: 12, dest: "::/0", nextHop: "fe80::1"},
	))
	f.Add(fwdTable())
	f.Add([]byte{0xff, 0xff, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		routes, err := parseForwardTable2(data)
		if err != nil {
			if !errors.Is(err, errNotRouteTable2) || routes != nil {
				t.Fatalf("parseForwardTable2 = %v, %v", routes, err)
			}
			return
		}
		if n := binary.LittleEndian.Uint32(data); uint64(len(routes)) > uint64(n) {
			t.Fatalf("%d routes from a table of %d rows", len(routes), n)
		}
		for _, r := range routes {
			if !r.Dest.IsValid() || !r.Dest.Addr().Is4() || !r.NextHop.Is4() {
				t.Fatalf("route %+v is not IPv4", r)
			}
		}
		if gw, ok := defaultGateway(routes, nil); ok && (gw.Dest.Bits() != 0 || !gw.NextHop.Is4() || gw.NextHop.IsUnspecified() || gw.NextHop.IsMulticast()) {
			t.Fatalf("default gateway %+v", gw)
		}
	})
}

func TestDefaultGateway(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		routes  []winRoute
		metrics map[uint32]uint32
		want    winRoute
		ok      bool
	}{
		{name: "no routes"},
		{name: "no default route", routes: []winRoute{route(12, "192.168.1.0/24", "0.0.0.0", 256)}},
		{name: "one default route", routes: []winRoute{
			route(12, "192.168.1.0/24", "0.0.0.0", 256),
			route(12, "0.0.0.0/0", "192.168.1.1", 0),
		}, want: route(12, "0.0.0.0/0", "192.168.1.1", 0), ok: true},
		{name: "the interface metric decides (wired 25 beats Wi-Fi 50)",
			routes:  []winRoute{route(7, "0.0.0.0/0", "10.0.0.1", 0), route(12, "0.0.0.0/0", "192.168.1.1", 0)},
			metrics: map[uint32]uint32{7: 50, 12: 25},
			want:    route(12, "0.0.0.0/0", "192.168.1.1", 0), ok: true},
		{name: "route and interface metrics add up",
			routes:  []winRoute{route(7, "0.0.0.0/0", "10.0.0.1", 10), route(12, "0.0.0.0/0", "192.168.1.1", 40)},
			metrics: map[uint32]uint32{7: 35, 12: 0},
			want:    route(12, "0.0.0.0/0", "192.168.1.1", 40), ok: true},
		{name: "without interface metrics (Wine) the route metric decides",
			routes: []winRoute{route(3, "0.0.0.0/0", "10.0.0.1", 600), route(9, "0.0.0.0/0", "192.168.1.1", 100)},
			want:   route(9, "0.0.0.0/0", "192.168.1.1", 100), ok: true},
		{name: "lowest interface index on a tie",
			routes: []winRoute{route(9, "0.0.0.0/0", "192.168.2.1", 5), route(4, "0.0.0.0/0", "192.168.1.1", 5)},
			want:   route(4, "0.0.0.0/0", "192.168.1.1", 5), ok: true},
		{name: "metrics at the top of their range do not wrap",
			routes:  []winRoute{route(1, "0.0.0.0/0", "10.0.0.1", 0xffffffff), route(2, "0.0.0.0/0", "10.0.0.2", 5)},
			metrics: map[uint32]uint32{1: 1}, // 2^32 in all: 0 if it wrapped
			want:    route(2, "0.0.0.0/0", "10.0.0.2", 5), ok: true},
		{name: "an on-link default route (VPN, point-to-point) has no gateway",
			routes: []winRoute{route(20, "0.0.0.0/0", "0.0.0.0", 0), route(12, "0.0.0.0/0", "192.168.1.1", 50)},
			want:   route(12, "0.0.0.0/0", "192.168.1.1", 50), ok: true},
		{name: "only an on-link default route", routes: []winRoute{route(20, "0.0.0.0/0", "0.0.0.0", 0)}},
		{name: "broadcast, multicast and loopback next hops are not gateways", routes: []winRoute{
			route(1, "0.0.0.0/0", "255.255.255.255", 0),
			route(2, "0.0.0.0/0", "224.0.0.1", 0),
			route(3, "0.0.0.0/0", "127.0.0.1", 0),
		}},
		{name: "0.0.0.0/1 (a VPN's half route) is not the default route",
			routes: []winRoute{route(20, "0.0.0.0/1", "10.8.0.1", 0), route(12, "0.0.0.0/0", "192.168.1.1", 50)},
			want:   route(12, "0.0.0.0/0", "192.168.1.1", 50), ok: true},
		{name: "a link-local gateway counts",
			routes: []winRoute{route(5, "0.0.0.0/0", "169.254.0.1", 0)},
			want:   route(5, "0.0.0.0/0", "169.254.0.1", 0), ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := defaultGateway(tc.routes, tc.metrics)
			if ok != tc.ok || got != tc.want {
				t.Errorf("defaultGateway = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// netRow is one MIB_IPNETROW to encode (netTable).
type netRow struct {
	ifIndex uint32
	mac     string // "" for an incomplete entry (no address)
	ip      string
	typ     uint32
}

func netTable(rows ...netRow) []byte {
	b := make([]byte, ipNetTableRows+len(rows)*ipNetRowSize)
	binary.LittleEndian.PutUint32(b, uint32(len(rows)))
	for i, r := range rows {
		row := b[ipNetTableRows+i*ipNetRowSize:][:ipNetRowSize]
		binary.LittleEndian.PutUint32(row, r.ifIndex)
		if r.mac != "" {
			mac, err := net.ParseMAC(r.mac)
			if err != nil {
				panic(err)
			}
			binary.LittleEndian.PutUint32(row[ipNetRowPhysLen:], uint32(len(mac)))
			copy(row[ipNetRowPhys:], mac)
		}
		copy(row[ipNetRowAddr:], netip.MustParseAddr(r.ip).AsSlice())
		binary.LittleEndian.PutUint32(row[ipNetRowType:], r.typ)
	}
	return b
}

func TestParseIPNetTable(t *testing.T) {
	t.Parallel()
	gw := netip.MustParseAddr("192.168.1.1")
	for _, tc := range []struct {
		name    string
		data    []byte
		ip      netip.Addr
		ifIndex uint32
		want    string
		err     error
	}{
		{name: "empty cache", data: netTable(), ip: gw, ifIndex: 12},
		{name: "the gateway's entry", ip: gw, ifIndex: 12, want: "aa:bb:cc:00:11:22", data: netTable(
			netRow{ifIndex: 12, mac: "52:54:00:12:34:56", ip: "192.168.1.20", typ: ipNetTypeDynamic},
			netRow{ifIndex: 12, mac: "AA:BB:CC:00:11:22", ip: "192.168.1.1", typ: ipNetTypeDynamic},
		)},
		{name: "a static entry counts", ip: gw, ifIndex: 12, want: "aa:bb:cc:00:11:22",
			data: netTable(netRow{ifIndex: 12, mac: "aa:bb:cc:00:11:22", ip: "192.168.1.1", typ: ipNetTypeStatic})},
		{name: "the same address on another interface is another LAN", ip: gw, ifIndex: 12, want: "02:00:00:00:00:0c", data: netTable(
			netRow{ifIndex: 7, mac: "02:00:00:00:00:07", ip: "192.168.1.1", typ: ipNetTypeDynamic},
			netRow{ifIndex: 12, mac: "02:00:00:00:00:0c", ip: "192.168.1.1", typ: ipNetTypeDynamic},
		)},
		{name: "invalid and other entries are skipped", ip: gw, ifIndex: 12, data: netTable(
			netRow{ifIndex: 12, mac: "aa:bb:cc:00:11:22", ip: "192.168.1.1", typ: 2}, // MIB_IPNET_TYPE_INVALID
			netRow{ifIndex: 12, mac: "aa:bb:cc:00:11:23", ip: "192.168.1.1", typ: 1}, // MIB_IPNET_TYPE_OTHER
			netRow{ifIndex: 12, ip: "192.168.1.1", typ: ipNetTypeDynamic},            // no address yet
		)},
		{name: "zero, broadcast and multicast addresses are skipped", ip: gw, ifIndex: 12, data: netTable(
			netRow{ifIndex: 12, mac: "00:00:00:00:00:00", ip: "192.168.1.1", typ: ipNetTypeDynamic},
			netRow{ifIndex: 12, mac: "ff:ff:ff:ff:ff:ff", ip: "192.168.1.1", typ: ipNetTypeStatic},
			netRow{ifIndex: 12, mac: "01:00:5e:00:00:01", ip: "192.168.1.1", typ: ipNetTypeStatic},
		)},
		{name: "an address that is not Ethernet's is skipped", ip: gw, ifIndex: 12,
			data: netTable(netRow{ifIndex: 12, mac: "02:00:00:00:00:00:00:01", ip: "192.168.1.1", typ: ipNetTypeDynamic})},
		{name: "an IPv6 gateway has no entry here", ip: netip.MustParseAddr("fe80::1"), ifIndex: 12,
			data: netTable(netRow{ifIndex: 12, mac: "aa:bb:cc:00:11:22", ip: "192.168.1.1", typ: ipNetTypeDynamic})},
		{name: "shorter than its count", ip: gw, ifIndex: 12,
			data: netTable(netRow{ifIndex: 12, mac: "aa:bb:cc:00:11:22", ip: "192.168.1.1", typ: ipNetTypeDynamic})[:ipNetTableRows+ipNetRowSize-1], err: errNotNetTable},
		{name: "a huge count", ip: gw, ifIndex: 12, data: []byte{0xff, 0xff, 0xff, 0xff}, err: errNotNetTable},
		{name: "too short for a count", ip: gw, ifIndex: 12, data: []byte{0}, err: errNotNetTable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseIPNetTable(tc.data, tc.ip, tc.ifIndex)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("parseIPNetTable = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func FuzzParseIPNetTable(f *testing.F) {
	f.Add(netTable(
		netRow{ifIndex: 12, mac: "52:54:00:12:34:56", ip: "192.168.1.20", typ: ipNetTypeDynamic},
		netRow{ifIndex: 12, mac: "aa:bb:cc:00:11:22", ip: "192.168.1.1", typ: ipNetTypeDynamic},
	), "192.168.1.1", uint32(12))
	f.Add(netTable(), "10.0.0.1", uint32(1))
	f.Add([]byte{2, 0, 0, 0}, "::1", uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, ip string, ifIndex uint32) {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		mac, err := parseIPNetTable(data, addr, ifIndex)
		if err != nil {
			if !errors.Is(err, errNotNetTable) || mac != "" {
				t.Fatalf("parseIPNetTable = %q, %v", mac, err)
			}
			return
		}
		if mac == "" {
			return
		}
		hw, err := net.ParseMAC(mac)
		if err != nil || len(hw) != 6 || hw[0]&1 != 0 || hw.String() != mac {
			t.Fatalf("parseIPNetTable = %q: not a unicast Ethernet address in canonical form", mac)
		}
	})
}
