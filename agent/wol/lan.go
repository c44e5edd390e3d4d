package wol

import (
	"fmt"
	"net"
	"net/netip"
)

// systemLAN is the machine's own network.
type systemLAN struct{}

func (systemLAN) interfaces() ([]iface, error) {
	nifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("wol.interfaces: %w", err)
	}
	ifs := make([]iface, 0, len(nifs))
	for _, n := range nifs {
		addrs, err := n.Addrs()
		if err != nil {
			return nil, fmt.Errorf("wol.interfaces %s: %w", n.Name, err)
		}
		ifc := iface{Name: n.Name, Index: n.Index, Flags: n.Flags, MAC: n.HardwareAddr}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			ones, _ := ipn.Mask.Size()
			if ip.Is4() && ones > 32 { // a 16-byte mask on an IPv4 address
				ones -= 96
			}
			ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(ip, ones))
		}
		ifs = append(ifs, ifc)
	}
	return ifs, nil
}
