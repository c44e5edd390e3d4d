//go:build !linux && !windows

package wol

import (
	"errors"
	"fmt"
	"syscall"
)

// udpControl sets nothing: Go's net package already sets SO_BROADCAST on
// every IPv4 datagram socket, and binding to the source address picks the
// interface.
func udpControl(string) func(network, address string, c syscall.RawConn) error { return nil }

// sendEthernet is unsupported: raw Ethernet frames need AF_PACKET (Linux).
func (systemLAN) sendEthernet(ifc iface, _ []byte) error {
	return fmt.Errorf("wol.sendEthernet %s: %w", ifc.Name, errors.ErrUnsupported)
}
