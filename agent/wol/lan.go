package wol

import (
	"context"
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

func (systemLAN) sendUDP(ifc iface, src netip.Addr, dst netip.AddrPort, payload []byte) error {
	lc := net.ListenConfig{Control: udpControl(ifc.Name)}
	pc, err := lc.ListenPacket(context.Background(), "udp4", netip.AddrPortFrom(src, 0).String())
	if err != nil {
		return fmt.Errorf("wol.sendUDP %s: %w", ifc.Name, err)
	}
	defer pc.Close()
	n, err := pc.WriteTo(payload, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return fmt.Errorf("wol.sendUDP %s to %s: %w", ifc.Name, dst, err)
	}
	if n != len(payload) {
		return fmt.Errorf("wol.sendUDP %s to %s: short write (%d of %d bytes)", ifc.Name, dst, n, len(payload))
	}
	return nil
}
