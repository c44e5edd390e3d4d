package wol

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/windows"
)

// sendUDP sends payload from src to dst (the LAN's broadcast address)
// through a Winsock datagram socket with SO_BROADCAST, bound to src so it
// leaves through ifc. It uses Winsock directly, not package net: since Go
// 1.23 every UDP socket of package net asks for SIO_UDP_NETRESET, which
// Wine 8.0 refuses (WSAEOPNOTSUPP, "wsaioctl: winapi error #10045"), so
// under Wine no net UDP socket opens at all; Windows accepts both ways.
func (systemLAN) sendUDP(ifc iface, src netip.Addr, dst netip.AddrPort, payload []byte) error {
	if !src.Is4() || !dst.Addr().Is4() {
		return fmt.Errorf("wol.sendUDP %s: %s to %s is not IPv4", ifc.Name, src, dst)
	}
	s, err := windows.WSASocket(windows.AF_INET, windows.SOCK_DGRAM, windows.IPPROTO_UDP, nil, 0, windows.WSA_FLAG_NO_HANDLE_INHERIT)
	if err != nil {
		return fmt.Errorf("wol.sendUDP %s: socket: %w", ifc.Name, err)
	}
	defer windows.Closesocket(s) //nolint:errcheck // nothing was buffered: Sendto has returned
	if err := windows.SetsockoptInt(s, windows.SOL_SOCKET, windows.SO_BROADCAST, 1); err != nil {
		return fmt.Errorf("wol.sendUDP %s: SO_BROADCAST: %w", ifc.Name, err)
	}
	if err := windows.Bind(s, &windows.SockaddrInet4{Addr: src.As4()}); err != nil {
		return fmt.Errorf("wol.sendUDP %s: bind %s: %w", ifc.Name, src, err)
	}
	// A datagram is sent whole or not at all.
	if err := windows.Sendto(s, payload, 0, &windows.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}); err != nil {
		return fmt.Errorf("wol.sendUDP %s to %s: %w", ifc.Name, dst, err)
	}
	return nil
}

// sendEthernet is unsupported: Windows has no raw Ethernet socket
// (AF_PACKET) without a capture driver; the UDP broadcast is the packet.
func (systemLAN) sendEthernet(ifc iface, _ []byte) error {
	return fmt.Errorf("wol.sendEthernet %s: %w", ifc.Name, errors.ErrUnsupported)
}
