package inventory

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const routeHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n"

func TestParseDefaultRoute(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  string
		order binary.ByteOrder
		want  defaultRoute
		err   error
	}{
		{name: "one default route", order: binary.LittleEndian, data: routeHeader +
			"eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0                                                                               \n" +
			"eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0                                                                               \n",
			want: defaultRoute{Iface: "eth0", Gateway: netip.MustParseAddr("192.168.1.1")}},
		{name: "big-endian host", order: binary.BigEndian, data: routeHeader +
			"eth0\t00000000\tC0A80101\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
			want: defaultRoute{Iface: "eth0", Gateway: netip.MustParseAddr("192.168.1.1")}},
		{name: "lowest metric wins", order: binary.LittleEndian, data: routeHeader +
			"wlan0\t00000000\t0100000A\t0003\t0\t0\t600\t00000000\t0\t0\t0\n" +
			"eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n" +
			"eth1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
			want: defaultRoute{Iface: "eth0", Gateway: netip.MustParseAddr("192.168.1.1")}},
		{name: "no default route", order: binary.LittleEndian, data: routeHeader +
			"eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"},
		{name: "a default route without a gateway (point-to-point)", order: binary.LittleEndian, data: routeHeader +
			"wg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"},
		{name: "a route that is not up", order: binary.LittleEndian, data: routeHeader +
			"eth0\t00000000\t0101A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n"},
		{name: "0.0.0.0/1 is not the default route", order: binary.LittleEndian, data: routeHeader +
			"tun0\t00000000\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0\n"},
		{name: "reject route flag is ignored, not required", order: binary.LittleEndian, data: routeHeader +
			"eth0\t00000000\t0101A8C0\t0203\t0\t0\t0\t00000000\t0\t0\t0\n",
			want: defaultRoute{Iface: "eth0", Gateway: netip.MustParseAddr("192.168.1.1")}},
		{name: "malformed lines are skipped", order: binary.LittleEndian, data: routeHeader +
			"eth0\t00000000\n" +
			"eth0\t0000000G\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"eth0\t00000000\t0101A8C\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"eth0\t00000000\t0101A8C0\t0003\t0\t0\t-1\t00000000\t0\t0\t0\n" +
			"eth0\t00000000\t00000000\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"eth0\t00000000\tFFFFFFFF\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"eth1\t00000000\t0102A8C0\t0003\t0\t0\t5\t00000000\t0\t0\t0\n",
			want: defaultRoute{Iface: "eth1", Gateway: netip.MustParseAddr("192.168.2.1")}},
		{name: "columns found by name", order: binary.LittleEndian,
			data: "Gateway Iface Flags Destination Mask\n0101A8C0 br0 0003 00000000 00000000\n",
			want: defaultRoute{Iface: "br0", Gateway: netip.MustParseAddr("192.168.1.1")}},
		{name: "no trailing newline", order: binary.LittleEndian,
			data: routeHeader + "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0",
			want: defaultRoute{Iface: "eth0", Gateway: netip.MustParseAddr("192.168.1.1")}},
		{name: "empty", order: binary.LittleEndian, err: errNotRouteTable},
		{name: "not a route table", order: binary.LittleEndian, data: "IP address       HW type     Flags       HW address            Mask     Device\n", err: errNotRouteTable},
		{name: "a header only", order: binary.LittleEndian, data: routeHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDefaultRoute([]byte(tc.data), tc.order)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if d := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("parseDefaultRoute (-want +got):\n%s", d)
			}
		})
	}
}

func FuzzParseDefaultRoute(f *testing.F) {
	f.Add([]byte(routeHeader+"eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"), false)
	f.Add([]byte("Gateway Iface Flags Destination Mask Metric\n0101A8C0 br0 0003 00000000 00000000 7\n"), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, bigEndian bool) {
		var order binary.ByteOrder = binary.LittleEndian
		if bigEndian {
			order = binary.BigEndian
		}
		r, err := parseDefaultRoute(data, order)
		if err != nil {
			if !errors.Is(err, errNotRouteTable) || r != (defaultRoute{}) {
				t.Fatalf("parseDefaultRoute = %+v, %v", r, err)
			}
			return
		}
		if !r.Gateway.IsValid() {
			if r.Iface != "" {
				t.Fatalf("an interface %q without a gateway", r.Iface)
			}
			return
		}
		if !r.Gateway.Is4() || r.Gateway.IsUnspecified() || r.Gateway.IsMulticast() || r.Gateway == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			t.Fatalf("gateway %s is not a unicast IPv4 address", r.Gateway)
		}
		if r.Iface == "" || len(r.Iface) > maxString || strings.ContainsAny(r.Iface, " \t\n") {
			t.Fatalf("interface %q", r.Iface)
		}
	})
}

const arpHeader = "IP address       HW type     Flags       HW address            Mask     Device\n"

func TestParseARP(t *testing.T) {
	gw := netip.MustParseAddr("192.168.1.1")
	for _, tc := range []struct {
		name string
		data string
		ip   netip.Addr
		dev  string
		want string
	}{
		{name: "complete entry", ip: gw, dev: "eth0", want: "aa:bb:cc:00:11:22", data: arpHeader +
			"192.168.1.20     0x1         0x2         52:54:00:12:34:56     *        eth0\n" +
			"192.168.1.1      0x1         0x2         AA:BB:CC:00:11:22     *        eth0\n"},
		{name: "any device", ip: gw, want: "aa:bb:cc:00:11:22", data: arpHeader +
			"192.168.1.1      0x1         0x2         aa:bb:cc:00:11:22     *        br-lan\n"},
		{name: "the same address on another device", ip: gw, dev: "eth0", data: arpHeader +
			"192.168.1.1      0x1         0x2         aa:bb:cc:00:11:22     *        eth1\n"},
		{name: "incomplete entry", ip: gw, dev: "eth0", data: arpHeader +
			"192.168.1.1      0x1         0x0         00:00:00:00:00:00     *        eth0\n"},
		{name: "permanent and complete", ip: gw, dev: "eth0", want: "aa:bb:cc:00:11:22", data: arpHeader +
			"192.168.1.1      0x1         0x6         aa:bb:cc:00:11:22     *        eth0\n"},
		{name: "not Ethernet", ip: gw, dev: "ib0", data: arpHeader +
			"192.168.1.1      0x20        0x2         80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:1f:83:51     *        ib0\n"},
		{name: "zero address", ip: gw, dev: "eth0", data: arpHeader +
			"192.168.1.1      0x1         0x2         00:00:00:00:00:00     *        eth0\n"},
		{name: "not there", ip: gw, dev: "eth0", data: arpHeader +
			"192.168.1.2      0x1         0x2         aa:bb:cc:00:11:22     *        eth0\n"},
		{name: "malformed lines skipped", ip: gw, dev: "eth0", want: "aa:bb:cc:00:11:23", data: arpHeader +
			"192.168.1.1      0x1         0x2         aa:bb:cc:00:11:22     *\n" +
			"192.168.1.1      1           0x2         aa:bb:cc:00:11:22     *        eth0\n" +
			"192.168.1.1      0x1         0xZ         aa:bb:cc:00:11:22     *        eth0\n" +
			"192.168.1.1      0x1         0x2         aa:bb:cc:00:11        *        eth0\n" +
			"192.168.1.01     0x1         0x2         aa:bb:cc:00:11:22     *        eth0\n" +
			"192.168.1.1      0x1         0x2         aa:bb:cc:00:11:23     *        eth0\n"},
		{name: "empty", ip: gw},
		{name: "no header", ip: gw, data: "192.168.1.1      0x1         0x2         aa:bb:cc:00:11:22     *        eth0\n"},
		{name: "header only", ip: gw, data: arpHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseARP([]byte(tc.data), tc.ip, tc.dev); got != tc.want {
				t.Errorf("parseARP(%s, %q) = %q, want %q", tc.ip, tc.dev, got, tc.want)
			}
		})
	}
}

func FuzzParseARP(f *testing.F) {
	f.Add([]byte(arpHeader+"192.168.1.1      0x1         0x2         aa:bb:cc:00:11:22     *        eth0\n"), "192.168.1.1", "eth0")
	f.Add([]byte(arpHeader+"10.0.0.1 0x1 0x6 aa-bb-cc-00-11-22 * br0\n"), "10.0.0.1", "")
	f.Add([]byte{}, "192.168.1.1", "")
	f.Fuzz(func(t *testing.T, data []byte, ipText, dev string) {
		ip, err := netip.ParseAddr(ipText)
		if err != nil {
			return
		}
		got := parseARP(data, ip, dev)
		if got == "" {
			return
		}
		mac, err := net.ParseMAC(got)
		if err != nil || len(mac) != 6 || mac.String() != got || got == "00:00:00:00:00:00" {
			t.Fatalf("parseARP = %q, want a canonical non-zero 6-byte address", got)
		}
		if !strings.Contains(string(data), ip.String()) {
			t.Fatalf("parseARP = %q for %s, which the table does not contain", got, ip)
		}
	})
}
