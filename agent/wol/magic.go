package wol

import (
	"bytes"
	"errors"
	"fmt"
	"net"
)

// MagicSize is the length of a magic packet: six 0xFF bytes, then the
// target's hardware address sixteen times.
const MagicSize = 6 + 16*6

// EtherType is the EtherType of a Wake-on-LAN Ethernet frame.
const EtherType = 0x0842

// Port is the UDP port magic packets are broadcast to (discard).
const Port = 9

// Errors of the magic packet codec.
var (
	// ErrMAC means a hardware address is not a 6-byte (EUI-48) address.
	ErrMAC = errors.New("wol: not a 6-byte hardware address")
	// ErrNotMagic means bytes are not a magic packet.
	ErrNotMagic = errors.New("wol: not a magic packet")
)

var syncStream = bytes.Repeat([]byte{0xff}, 6)

// MagicPacket returns the magic packet that wakes the NIC with address
// mac. Only EUI-48 addresses (6 bytes) can be woken.
func MagicPacket(mac net.HardwareAddr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("wol.MagicPacket: %w (%d bytes)", ErrMAC, len(mac))
	}
	p := make([]byte, 0, MagicSize)
	p = append(p, syncStream...)
	for range 16 {
		p = append(p, mac...)
	}
	return p, nil
}

// ParseMagic returns the hardware address a magic packet wakes. The packet
// must be exactly MagicSize bytes (no SecureOn password, no padding).
func ParseMagic(p []byte) (net.HardwareAddr, error) {
	if len(p) != MagicSize {
		return nil, fmt.Errorf("wol.ParseMagic: %w: %d bytes, want %d", ErrNotMagic, len(p), MagicSize)
	}
	if !bytes.Equal(p[:6], syncStream) {
		return nil, fmt.Errorf("wol.ParseMagic: %w: no synchronisation stream", ErrNotMagic)
	}
	mac := p[6:12]
	for i := 12; i < MagicSize; i += 6 {
		if !bytes.Equal(p[i:i+6], mac) {
			return nil, fmt.Errorf("wol.ParseMagic: %w: repetition %d differs", ErrNotMagic, (i-6)/6+1)
		}
	}
	return net.HardwareAddr(bytes.Clone(mac)), nil
}
