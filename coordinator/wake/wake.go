// Package wake decides how the coordinator wakes a sleeping machine (U3):
// which online agent on the same LAN relays the Wake-on-LAN packet, and
// what to ask it (the machine's MAC and subnet, a wire.WakeRequest).
//
// # Overview
//
// The package is pure: it reads Machines built from stored inventories and
// answers; it never touches the network or the store. The relay agent
// enforces the other half (agent/wol refuses a subnet it is not on).
//
// A machine's LAN is the IPv4 subnet of its interface that holds its
// default gateway. A relay must be online, not the target, have an address
// in that subnet, and sit behind the same gateway. Private subnets repeat
// from site to site (every other office is 192.168.1.0/24), so the subnet
// alone proves nothing; the gateway's identity tells sites apart:
//
//   - the gateway's hardware address, when both machines report one;
//   - otherwise the gateway's address and the public address the
//     coordinator saw both reports come from, both known and equal.
//
// When neither can be established no relay is chosen: a wake-up that does
// not happen is better than a relay at another site sending one onto its
// own LAN.
//
// # Usage
//
//	req, err := wake.Request(target)                 // wire.WakeRequest
//	relay, err := wake.PickRelay(target, candidates) // who to send it to
package wake

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Errors, checked with errors.Is.
var (
	// ErrNoLAN means the target has no IPv4 LAN subnet to wake it on, or
	// several and no gateway to tell which is its LAN.
	ErrNoLAN = errors.New("wake: the machine has no known LAN subnet")
	// ErrNoMAC means the target's interface on its LAN has no usable
	// (6-byte unicast) hardware address.
	ErrNoMAC = errors.New("wake: the machine's LAN interface has no hardware address")
	// ErrNoRelay means no online agent is known to be on the target's LAN.
	ErrNoRelay = errors.New("wake: no online agent on the machine's LAN")
)

// Machine is what the decision needs to know about one device.
type Machine struct {
	ID         string
	Online     bool
	LastSeen   time.Time    // the latest heartbeat or report
	Interfaces []wire.NetIf // as inventoried: addresses with prefix ("192.168.1.5/24") and MAC
	Gateway    string       // default IPv4 gateway, "" if unknown
	GatewayMAC string       // its hardware address, "" if unknown
	ExternalIP string       // the public address the coordinator saw, "" if unknown
}

// FromInventory builds a Machine from a device's stored inventory.
func FromInventory(id string, online bool, lastSeen time.Time, inv wire.Inventory) Machine {
	return Machine{
		ID: id, Online: online, LastSeen: lastSeen,
		Interfaces: inv.Interfaces,
		Gateway:    inv.Gateway, GatewayMAC: inv.GatewayMAC, ExternalIP: inv.ExternalIP,
	}
}

// Request returns what to ask a relay for target: the hardware address of
// its interface on its LAN and that LAN's subnet. It fails with ErrNoLAN
// or ErrNoMAC.
func Request(target Machine) (wire.WakeRequest, error) {
	lan, err := targetLAN(target)
	if err != nil {
		return wire.WakeRequest{}, fmt.Errorf("wake.Request %s: %w", target.ID, err)
	}
	return wire.WakeRequest{MAC: lan.mac.String(), Subnet: lan.subnet.String()}, nil
}

// Subnet returns target's LAN: the subnet of its interface that holds its
// gateway, or its only LAN subnet when the gateway is unknown. It fails
// with ErrNoLAN.
func Subnet(target Machine) (netip.Prefix, error) {
	subnet, _, err := lanSubnet(target)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("wake.Subnet %s: %w", target.ID, err)
	}
	return subnet, nil
}

// PickRelay chooses the agent that wakes target: online, not target, with
// an address in target's LAN subnet and behind the same gateway (see the
// package doc). Among several, the most recently seen wins, then the
// lowest ID. It fails with ErrNoLAN or ErrNoMAC if target cannot be woken
// at all, and with ErrNoRelay if no candidate qualifies.
func PickRelay(target Machine, candidates []Machine) (Machine, error) {
	lan, err := targetLAN(target)
	if err != nil {
		return Machine{}, fmt.Errorf("wake.PickRelay %s: %w", target.ID, err)
	}
	var ok []Machine
	var offline, elsewhere, otherSite int
	for _, c := range candidates {
		switch {
		case c.ID == "" || c.ID == target.ID:
		case !c.Online:
			offline++
		case !onSubnet(c, lan.subnet):
			elsewhere++
		case !sameGateway(target, c):
			otherSite++
		default:
			ok = append(ok, c)
		}
	}
	if len(ok) == 0 {
		return Machine{}, fmt.Errorf("wake.PickRelay %s: %w %s (%d offline, %d on other subnets, %d on %s at another site or behind an unknown gateway)",
			target.ID, ErrNoRelay, lan.subnet, offline, elsewhere, otherSite, lan.subnet)
	}
	return slices.MinFunc(ok, func(a, b Machine) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	}), nil
}

// lan is a target's LAN subnet and its hardware address on it.
type lan struct {
	subnet netip.Prefix
	mac    net.HardwareAddr
}

func targetLAN(target Machine) (lan, error) {
	subnet, ifs, err := lanSubnet(target)
	if err != nil {
		return lan{}, err
	}
	for _, n := range ifs {
		if mac, ok := unicastMAC(n.MAC); ok {
			return lan{subnet: subnet, mac: mac}, nil
		}
	}
	return lan{}, fmt.Errorf("%w on %s", ErrNoMAC, subnet)
}

// lanSubnet returns m's LAN subnet and m's interfaces on it, in order.
func lanSubnet(m Machine) (netip.Prefix, []wire.NetIf, error) {
	gw, _ := netip.ParseAddr(m.Gateway) // invalid if unknown or garbage
	var subnets []netip.Prefix
	on := map[netip.Prefix][]wire.NetIf{}
	for _, n := range m.Interfaces {
		for _, p := range lanPrefixes(n) {
			if gw.IsValid() && !p.Contains(gw) {
				continue
			}
			if _, seen := on[p]; !seen {
				subnets = append(subnets, p)
			}
			on[p] = append(on[p], n)
		}
	}
	switch {
	case len(subnets) == 1:
		return subnets[0], on[subnets[0]], nil
	case len(subnets) == 0 && gw.IsValid():
		return netip.Prefix{}, nil, fmt.Errorf("%w: no interface on the subnet of gateway %s", ErrNoLAN, gw)
	case len(subnets) == 0:
		return netip.Prefix{}, nil, ErrNoLAN
	case gw.IsValid():
		// Nested prefixes both holding the gateway: the narrowest is the LAN.
		p := slices.MaxFunc(subnets, func(a, b netip.Prefix) int { return cmp.Compare(a.Bits(), b.Bits()) })
		return p, on[p], nil
	}
	return netip.Prefix{}, nil, fmt.Errorf("%w: %d subnets and no gateway to tell which is the LAN", ErrNoLAN, len(subnets))
}

// lanPrefixes returns the IPv4 subnets (masked) of n's addresses that can
// be a LAN: not loopback, link-local, multicast, or narrower than /30
// (overlay and point-to-point addresses are /32).
func lanPrefixes(n wire.NetIf) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range n.Addrs {
		p, ok := lanPrefix(a)
		if ok && !slices.Contains(out, p.Masked()) {
			out = append(out, p.Masked())
		}
	}
	return out
}

func lanPrefix(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a := p.Addr()
	if !a.Is4() || p.Bits() < 8 || p.Bits() > 30 || !a.IsGlobalUnicast() {
		return netip.Prefix{}, false // IsGlobalUnicast excludes loopback, link-local, multicast
	}
	return p, true
}

// onSubnet reports whether c has a LAN address inside subnet.
func onSubnet(c Machine, subnet netip.Prefix) bool {
	for _, n := range c.Interfaces {
		for _, a := range n.Addrs {
			if p, ok := lanPrefix(a); ok && subnet.Contains(p.Addr()) {
				return true
			}
		}
	}
	return false
}

// sameGateway reports whether a and b are known to sit behind the same
// gateway: equal gateway hardware addresses when both know theirs, else
// equal gateway addresses and equal public addresses, all four known.
func sameGateway(a, b Machine) bool {
	am, aok := unicastMAC(a.GatewayMAC)
	bm, bok := unicastMAC(b.GatewayMAC)
	if aok && bok {
		return slices.Equal(am, bm)
	}
	ag, err1 := netip.ParseAddr(a.Gateway)
	bg, err2 := netip.ParseAddr(b.Gateway)
	ax, err3 := netip.ParseAddr(a.ExternalIP)
	bx, err4 := netip.ParseAddr(b.ExternalIP)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return false
	}
	return ag.Unmap() == bg.Unmap() && ax.Unmap() == bx.Unmap()
}

// unicastMAC parses a 6-byte unicast, non-zero hardware address.
func unicastMAC(s string) (net.HardwareAddr, bool) {
	mac, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(mac) != 6 || mac[0]&1 != 0 || [6]byte(mac) == [6]byte{} {
		return nil, false
	}
	return mac, true
}
