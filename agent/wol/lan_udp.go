//go:build !windows

package wol

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// sendUDP sends payload from src to dst through ifc, with SO_BROADCAST
// (and, on Linux, the socket bound to the interface: udpControl).
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
