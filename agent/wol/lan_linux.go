package wol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// udpControl sets SO_BROADCAST and binds the socket to the interface, so
// the broadcast leaves through it even when another interface has an
// address on the same network.
func udpControl(dev string) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1),
				unix.BindToDevice(int(fd), dev),
			)
		})
		return errors.Join(err, serr)
	}
}

// sendEthernet broadcasts payload as an EtherType 0x0842 frame through an
// AF_PACKET datagram socket (the kernel writes the Ethernet header). The
// socket's protocol is 0, so it never receives anything.
func (systemLAN) sendEthernet(ifc iface, payload []byte) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("wol.sendEthernet %s: socket: %w", ifc.Name, err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{
		Protocol: htons(EtherType),
		Ifindex:  ifc.Index,
		Halen:    6,
		Addr:     [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	if err := unix.Sendto(fd, payload, 0, to); err != nil {
		return fmt.Errorf("wol.sendEthernet %s: sendto: %w", ifc.Name, err)
	}
	return nil
}

// htons returns v in network byte order, as the kernel reads sll_protocol.
func htons(v uint16) uint16 { return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v)) }
