package wake

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/wire"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// Two offices, both on 192.168.1.0/24 behind 192.168.1.1.
const (
	siteAGatewayMAC = "aa:aa:aa:00:00:01"
	siteAExternal   = "203.0.113.10"
	siteBGatewayMAC = "bb:bb:bb:00:00:01"
	siteBExternal   = "198.51.100.20"
)

// machine is a machine at site A unless changed by opts.
func machine(id string, addr string, opts ...func(*Machine)) Machine {
	m := Machine{
		ID: id, Online: true, LastSeen: t0,
		Interfaces: []wire.NetIf{
			{Name: "eth0", MAC: "52:54:00:00:00:" + id[len(id)-2:], Addrs: []string{addr, "fe80::1/64"}},
			{Name: "tailscale0", Addrs: []string{"100.64.0." + id[len(id)-2:] + "/32"}},
		},
		Gateway: "192.168.1.1", GatewayMAC: siteAGatewayMAC, ExternalIP: siteAExternal,
	}
	for _, o := range opts {
		o(&m)
	}
	return m
}

func siteB(m *Machine)   { m.GatewayMAC, m.ExternalIP = siteBGatewayMAC, siteBExternal }
func offline(m *Machine) { m.Online = false }
func noGWMAC(m *Machine) { m.GatewayMAC = "" }
func seen(d time.Duration) func(*Machine) {
	return func(m *Machine) { m.LastSeen = t0.Add(d) }
}

// docker gives m a docker bridge, the same 172.17.0.0/16 on every host.
func docker(m *Machine) {
	m.Interfaces = append(m.Interfaces, wire.NetIf{Name: "docker0", MAC: "02:42:ac:11:00:01", Addrs: []string{"172.17.0.1/16"}})
}

func TestPickRelay(t *testing.T) {
	t.Parallel()
	target := machine("pc-10", "192.168.1.10/24", offline)
	for _, tc := range []struct {
		name       string
		target     Machine
		candidates []Machine
		want       string // relay ID; "" means an error
		err        error
	}{
		{name: "a machine on the same LAN", target: target,
			candidates: []Machine{machine("pc-20", "192.168.1.20/24")}, want: "pc-20"},
		{name: "the same subnet at another site is refused", target: target,
			candidates: []Machine{machine("pc-30", "192.168.1.30/24", siteB)}, err: ErrNoRelay},
		{name: "the other site is skipped, the same site chosen", target: target,
			candidates: []Machine{machine("pc-30", "192.168.1.30/24", siteB, seen(time.Hour)), machine("pc-20", "192.168.1.20/24")}, want: "pc-20"},
		{name: "another site with the same gateway address and no MACs is told apart by the public address", target: machine("pc-10", "192.168.1.10/24", offline, noGWMAC),
			candidates: []Machine{machine("pc-30", "192.168.1.30/24", siteB, noGWMAC)}, err: ErrNoRelay},
		{name: "no gateway MACs: same gateway and public address", target: machine("pc-10", "192.168.1.10/24", offline, noGWMAC),
			candidates: []Machine{machine("pc-20", "192.168.1.20/24", noGWMAC)}, want: "pc-20"},
		{name: "one side without a gateway MAC falls back to addresses", target: target,
			candidates: []Machine{machine("pc-20", "192.168.1.20/24", noGWMAC)}, want: "pc-20"},
		{name: "no gateway MAC and no public address: cannot tell, refused", target: machine("pc-10", "192.168.1.10/24", offline, noGWMAC),
			candidates: []Machine{machine("pc-20", "192.168.1.20/24", noGWMAC, func(m *Machine) { m.ExternalIP = "" })}, err: ErrNoRelay},
		{name: "nothing known about the gateways: refused", target: machine("pc-10", "192.168.1.10/24", offline, func(m *Machine) { *m = Machine{ID: m.ID, Interfaces: m.Interfaces} }),
			candidates: []Machine{machine("pc-20", "192.168.1.20/24", func(m *Machine) { m.Gateway, m.GatewayMAC, m.ExternalIP = "", "", "" })}, err: ErrNoRelay},
		{name: "gateway MACs compared as addresses", target: target,
			candidates: []Machine{machine("pc-20", "192.168.1.20/24", func(m *Machine) { m.GatewayMAC = "AA-AA-AA-00-00-01" })}, want: "pc-20"},
		{name: "equal gateway MACs outweigh another public address (dual WAN)", target: target,
			candidates: []Machine{machine("pc-20", "192.168.1.20/24", func(m *Machine) { m.ExternalIP = "192.0.2.99" })}, want: "pc-20"},
		{name: "offline relays are skipped", target: target,
			candidates: []Machine{machine("pc-20", "192.168.1.20/24", offline, seen(time.Hour)), machine("pc-21", "192.168.1.21/24")}, want: "pc-21"},
		{name: "only offline relays", target: target,
			candidates: []Machine{machine("pc-20", "192.168.1.20/24", offline)}, err: ErrNoRelay},
		{name: "the target is not its own relay", target: machine("pc-10", "192.168.1.10/24"),
			candidates: []Machine{machine("pc-10", "192.168.1.10/24")}, err: ErrNoRelay},
		{name: "another subnet at the same site (VLAN)", target: target,
			candidates: []Machine{machine("pc-20", "192.168.2.20/24", func(m *Machine) { m.Gateway = "192.168.2.1" })}, err: ErrNoRelay},
		{name: "no candidates", target: target, err: ErrNoRelay},
		{name: "the most recently seen", target: target,
			candidates: []Machine{machine("pc-20", "192.168.1.20/24"), machine("pc-21", "192.168.1.21/24", seen(time.Minute)), machine("pc-22", "192.168.1.22/24", seen(-time.Minute))}, want: "pc-21"},
		{name: "a tie goes to the lowest ID", target: target,
			candidates: []Machine{machine("pc-22", "192.168.1.22/24"), machine("pc-20", "192.168.1.20/24"), machine("pc-21", "192.168.1.21/24")}, want: "pc-20"},
		{name: "several subnets: the one with the gateway is the LAN", target: machine("pc-10", "192.168.1.10/24", offline, docker),
			candidates: []Machine{
				machine("pc-40", "10.0.0.40/24", docker, seen(time.Hour)), // shares only the docker bridge
				machine("pc-20", "192.168.1.20/24", docker),
			}, want: "pc-20"},
		{name: "several subnets: sharing only the docker bridge is not sharing the LAN", target: machine("pc-10", "192.168.1.10/24", offline, docker),
			candidates: []Machine{machine("pc-40", "10.0.0.40/24", docker)}, err: ErrNoRelay},
		{name: "a relay with two LANs", target: target,
			candidates: []Machine{machine("pc-50", "10.9.0.5/24", func(m *Machine) {
				m.Interfaces = append(m.Interfaces, wire.NetIf{Name: "eth1", MAC: "52:54:00:00:01:50", Addrs: []string{"192.168.1.50/24"}})
			})}, want: "pc-50"},
		{name: "target without a MAC", target: machine("pc-10", "192.168.1.10/24", offline, func(m *Machine) { m.Interfaces[0].MAC = "" }),
			candidates: []Machine{machine("pc-20", "192.168.1.20/24")}, err: ErrNoMAC},
		{name: "target with a group MAC", target: machine("pc-10", "192.168.1.10/24", offline, func(m *Machine) { m.Interfaces[0].MAC = "01:00:5e:00:00:01" }),
			candidates: []Machine{machine("pc-20", "192.168.1.20/24")}, err: ErrNoMAC},
		{name: "target without an IPv4 LAN", target: machine("pc-10", "169.254.3.4/16", offline),
			candidates: []Machine{machine("pc-20", "192.168.1.20/24")}, err: ErrNoLAN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			relay, err := PickRelay(tc.target, tc.candidates)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("PickRelay = %q, %v; want %v", relay.ID, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PickRelay: %v", err)
			}
			if relay.ID != tc.want {
				t.Errorf("PickRelay = %q, want %q", relay.ID, tc.want)
			}
		})
	}
}

func TestRequestAndSubnet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target Machine
		want   wire.WakeRequest
		err    error
	}{
		{name: "one LAN", target: machine("pc-10", "192.168.1.10/24"),
			want: wire.WakeRequest{MAC: "52:54:00:00:00:10", Subnet: "192.168.1.0/24"}},
		{name: "MAC made canonical", target: machine("pc-10", "192.168.1.10/24", func(m *Machine) { m.Interfaces[0].MAC = "52-54-00-AB-CD-EF" }),
			want: wire.WakeRequest{MAC: "52:54:00:ab:cd:ef", Subnet: "192.168.1.0/24"}},
		{name: "the subnet of the gateway among several", target: machine("pc-10", "192.168.1.10/24", docker),
			want: wire.WakeRequest{MAC: "52:54:00:00:00:10", Subnet: "192.168.1.0/24"}},
		{name: "wired and wireless on the LAN: the first with a MAC", target: machine("pc-10", "10.1.0.10/16", func(m *Machine) {
			m.Gateway = "10.1.0.1"
			m.Interfaces[0].MAC = ""
			m.Interfaces = append(m.Interfaces, wire.NetIf{Name: "wlan0", MAC: "52:54:00:00:0a:0a", Addrs: []string{"10.1.0.11/16"}})
		}), want: wire.WakeRequest{MAC: "52:54:00:00:0a:0a", Subnet: "10.1.0.0/16"}},
		{name: "several subnets, gateway unknown", target: machine("pc-10", "192.168.1.10/24", docker, func(m *Machine) { m.Gateway = "" }), err: ErrNoLAN},
		{name: "one subnet, gateway unknown", target: machine("pc-10", "192.168.1.10/24", func(m *Machine) { m.Gateway = "" }),
			want: wire.WakeRequest{MAC: "52:54:00:00:00:10", Subnet: "192.168.1.0/24"}},
		{name: "gateway on no interface's subnet", target: machine("pc-10", "192.168.1.10/24", func(m *Machine) { m.Gateway = "10.0.0.1" }), err: ErrNoLAN},
		{name: "overlay address only", target: machine("pc-10", "192.168.1.10/24", func(m *Machine) { m.Interfaces = m.Interfaces[1:] }), err: ErrNoLAN},
		{name: "garbage addresses", target: machine("pc-10", "not-an-address", func(m *Machine) {
			m.Interfaces[0].Addrs = append(m.Interfaces[0].Addrs, "192.168.1.300/24", "192.168.1.9")
		}), err: ErrNoLAN},
		{name: "no MAC", target: machine("pc-10", "192.168.1.10/24", func(m *Machine) { m.Interfaces[0].MAC = "00:00:00:00:00:00" }), err: ErrNoMAC},
		{name: "EUI-64 MAC", target: machine("pc-10", "192.168.1.10/24", func(m *Machine) { m.Interfaces[0].MAC = "02:00:00:00:00:00:00:01" }), err: ErrNoMAC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := Request(tc.target)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Request = %+v, %v; want error %v", req, err, tc.err)
			}
			if d := cmp.Diff(tc.want, req); d != "" {
				t.Errorf("Request (-want +got):\n%s", d)
			}
			subnet, err := Subnet(tc.target)
			if errors.Is(tc.err, ErrNoLAN) {
				if !errors.Is(err, ErrNoLAN) {
					t.Errorf("Subnet = %s, %v; want ErrNoLAN", subnet, err)
				}
				return
			}
			if err != nil || (tc.err == nil && subnet != netip.MustParsePrefix(tc.want.Subnet)) {
				t.Errorf("Subnet = %s, %v; want %s", subnet, err, tc.want.Subnet)
			}
		})
	}
}

func TestFromInventory(t *testing.T) {
	t.Parallel()
	inv := wire.Inventory{
		Hostname:   "pc-10",
		Interfaces: []wire.NetIf{{Name: "eth0", MAC: "52:54:00:00:00:10", Addrs: []string{"192.168.1.10/24"}}},
		Gateway:    "192.168.1.1", GatewayMAC: siteAGatewayMAC, ExternalIP: siteAExternal,
	}
	got := FromInventory("dev-1", true, t0, inv)
	want := Machine{ID: "dev-1", Online: true, LastSeen: t0, Interfaces: inv.Interfaces,
		Gateway: "192.168.1.1", GatewayMAC: siteAGatewayMAC, ExternalIP: siteAExternal}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FromInventory (-want +got):\n%s", d)
	}
}
