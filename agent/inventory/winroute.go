package inventory

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// The Windows route and neighbour tables, decoded from the bytes
// iphlpapi returns. They are read as bytes at the C layout's offsets, not
// through Go structs: golang.org/x/sys/windows's MibIpForwardTable2 puts
// its first row at offset 4 on 386, where the C table (8-byte aligned for
// the row's NET_LUID) has it at 8.

// errNotRouteTable2 means bytes are not a MIB_IPFORWARD_TABLE2.
var errNotRouteTable2 = errors.New("not a MIB_IPFORWARD_TABLE2")

// errNotNetTable means bytes are not a MIB_IPNETTABLE.
var errNotNetTable = errors.New("not a MIB_IPNETTABLE")

// MIB_IPFORWARD_TABLE2 layout (netioapi.h), the same on x86, x64 and ARM64.
const (
	fwdTableRows     = 8   // NumEntries, then padding to the row's 8-byte alignment
	fwdRowSize       = 104 // sizeof(MIB_IPFORWARD_ROW2)
	fwdRowIfIndex    = 8   // InterfaceIndex (after the 8-byte InterfaceLuid)
	fwdRowDest       = 12  // DestinationPrefix.Prefix, a SOCKADDR_INET (28 bytes)
	fwdRowDestLen    = 40  // DestinationPrefix.PrefixLength
	fwdRowNextHop    = 44  // NextHop, a SOCKADDR_INET
	fwdRowMetric     = 84  // Metric
	fwdRowLoopback   = 92  // Loopback (BOOLEAN)
	sockaddrInAddr   = 4   // sin_addr within SOCKADDR_IN (after family and port)
	afInet           = 2   // AF_INET
	maxRouteRows     = 1 << 16
	ipNetTableRows   = 4  // MIB_IPNETTABLE: dwNumEntries, then the rows
	ipNetRowSize     = 24 // sizeof(MIB_IPNETROW): index, length, 8 address bytes, IPv4 address, type
	ipNetRowPhysLen  = 4
	ipNetRowPhys     = 8
	ipNetRowAddr     = 16
	ipNetRowType     = 20
	ipNetTypeDynamic = 3 // MIB_IPNET_TYPE_DYNAMIC
	ipNetTypeStatic  = 4 // MIB_IPNET_TYPE_STATIC
)

// winRoute is one IPv4 route of the Windows forwarding table.
type winRoute struct {
	IfIndex uint32
	Dest    netip.Prefix
	NextHop netip.Addr // the unspecified address for an on-link route
	Metric  uint32     // the route's own metric; Windows adds the interface's
}

// parseForwardTable2 returns the IPv4 routes of a MIB_IPFORWARD_TABLE2
// (IPv6 and loopback rows are skipped). It fails with errNotRouteTable2
// when the rows NumEntries declares do not fit in b.
func parseForwardTable2(b []byte) ([]winRoute, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", errNotRouteTable2, len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxRouteRows || (n > 0 && uint64(len(b)) < fwdTableRows+uint64(n)*fwdRowSize) {
		return nil, fmt.Errorf("%w: %d rows in %d bytes", errNotRouteTable2, n, len(b))
	}
	var out []winRoute
	for i := range int(n) {
		row := b[fwdTableRows+i*fwdRowSize:][:fwdRowSize]
		dest, ok1 := sockaddrIn4(row[fwdRowDest:])
		hop, ok2 := sockaddrIn4(row[fwdRowNextHop:])
		bits := int(row[fwdRowDestLen])
		if !ok1 || !ok2 || bits > 32 || row[fwdRowLoopback] != 0 {
			continue
		}
		out = append(out, winRoute{
			IfIndex: binary.LittleEndian.Uint32(row[fwdRowIfIndex:]),
			Dest:    netip.PrefixFrom(dest, bits),
			NextHop: hop,
			Metric:  binary.LittleEndian.Uint32(row[fwdRowMetric:]),
		})
	}
	return out, nil
}

// sockaddrIn4 reads the IPv4 address of a SOCKADDR_INET whose family is
// AF_INET.
func sockaddrIn4(b []byte) (netip.Addr, bool) {
	if len(b) < sockaddrInAddr+4 || binary.LittleEndian.Uint16(b) != afInet {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b[sockaddrInAddr:])), true
}

// defaultGateway returns Windows' IPv4 default route: among the routes to
// 0.0.0.0/0 through a usable gateway, the lowest metric, which Windows
// counts as the route's plus its interface's (ifMetric; an interface
// missing there counts 0), then the lowest interface index. ok is false if
// there is no default route.
func defaultGateway(routes []winRoute, ifMetric map[uint32]uint32) (r winRoute, ok bool) {
	var defaults []winRoute
	for _, r := range routes {
		if r.Dest.Bits() == 0 && r.Dest.Addr().Is4() && r.Dest.Addr().IsUnspecified() &&
			(r.NextHop.IsGlobalUnicast() || r.NextHop.IsLinkLocalUnicast()) {
			defaults = append(defaults, r)
		}
	}
	if len(defaults) == 0 {
		return winRoute{}, false
	}
	metric := func(r winRoute) uint64 { return uint64(r.Metric) + uint64(ifMetric[r.IfIndex]) }
	return slices.MinFunc(defaults, func(a, b winRoute) int {
		return cmp.Or(cmp.Compare(metric(a), metric(b)), cmp.Compare(a.IfIndex, b.IfIndex))
	}), true
}

// parseIPNetTable returns the hardware address a MIB_IPNETTABLE (the IPv4
// ARP cache, GetIpNetTable) holds for ip on interface ifIndex, lower case;
// "" if it has no dynamic or static Ethernet entry for it. It fails with
// errNotNetTable when the rows dwNumEntries declares do not fit in b.
func parseIPNetTable(b []byte, ip netip.Addr, ifIndex uint32) (string, error) {
	if len(b) < ipNetTableRows {
		return "", fmt.Errorf("%w: %d bytes", errNotNetTable, len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxRouteRows || uint64(len(b)) < ipNetTableRows+uint64(n)*ipNetRowSize {
		return "", fmt.Errorf("%w: %d rows in %d bytes", errNotNetTable, n, len(b))
	}
	if !ip.Is4() {
		return "", nil
	}
	for i := range int(n) {
		row := b[ipNetTableRows+i*ipNetRowSize:][:ipNetRowSize]
		typ := binary.LittleEndian.Uint32(row[ipNetRowType:])
		if binary.LittleEndian.Uint32(row) != ifIndex || netip.AddrFrom4([4]byte(row[ipNetRowAddr:])) != ip ||
			binary.LittleEndian.Uint32(row[ipNetRowPhysLen:]) != 6 || (typ != ipNetTypeDynamic && typ != ipNetTypeStatic) {
			continue
		}
		mac := net.HardwareAddr(row[ipNetRowPhys : ipNetRowPhys+6])
		if [6]byte(mac) == [6]byte{} || mac[0]&1 != 0 {
			continue
		}
		return mac.String(), nil
	}
	return "", nil
}
