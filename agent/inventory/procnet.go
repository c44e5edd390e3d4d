package inventory

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// errNotRouteTable means bytes are not the kernel's IPv4 route table.
var errNotRouteTable = errors.New("not a /proc/net/route table")

// Route flags of /proc/net/route (linux/route.h).
const (
	rtfUp      = 0x1
	rtfGateway = 0x2
)

// defaultRoute is the IPv4 default route: the gateway and the interface
// it is reached through.
type defaultRoute struct {
	Iface   string
	Gateway netip.Addr
}

// parseDefaultRoute returns the default route of a /proc/net/route table:
// the up route with a gateway to 0.0.0.0/0 with the lowest metric (the
// first one on a tie), or the zero defaultRoute if there is none. The
// kernel prints each address as the host-order number of its network-order
// bytes, so order is the host's byte order (binary.NativeEndian). Lines
// that do not parse are skipped; only a missing header is an error.
func parseDefaultRoute(data []byte, order binary.ByteOrder) (defaultRoute, error) {
	header, body, _ := strings.Cut(string(data), "\n")
	col := map[string]int{}
	for i, name := range strings.Fields(header) {
		if _, dup := col[name]; !dup {
			col[name] = i
		}
	}
	width := 0
	for _, name := range []string{"Iface", "Destination", "Gateway", "Flags", "Mask"} {
		i, ok := col[name]
		if !ok {
			return defaultRoute{}, errNotRouteTable
		}
		width = max(width, i+1)
	}
	metricCol, hasMetric := col["Metric"]
	if hasMetric {
		width = max(width, metricCol+1)
	}

	var best defaultRoute
	var bestMetric uint64
	for line := range strings.Lines(body) {
		f := strings.Fields(line)
		if len(f) < width {
			continue
		}
		dst, ok1 := hex32(f[col["Destination"]])
		mask, ok2 := hex32(f[col["Mask"]])
		gw, ok3 := hex32(f[col["Gateway"]])
		flags, err := strconv.ParseUint(f[col["Flags"]], 16, 16)
		if !ok1 || !ok2 || !ok3 || err != nil || dst != 0 || mask != 0 || flags&(rtfUp|rtfGateway) != rtfUp|rtfGateway {
			continue
		}
		var metric uint64
		if hasMetric {
			if metric, err = strconv.ParseUint(f[metricCol], 10, 32); err != nil {
				continue
			}
		}
		var b [4]byte
		order.PutUint32(b[:], gw)
		ip := netip.AddrFrom4(b)
		if !ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast() {
			continue
		}
		if !best.Gateway.IsValid() || metric < bestMetric {
			best, bestMetric = defaultRoute{Iface: bound(f[col["Iface"]]), Gateway: ip}, metric
		}
	}
	return best, nil
}

// hex32 parses the eight hex digits of an address or mask.
func hex32(s string) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	return uint32(v), err == nil
}

// ARP entry values of /proc/net/arp.
const (
	arphrdEther = 0x1 // HW type: Ethernet
	atfCom      = 0x2 // flag: the entry is complete
)

// parseARP returns the hardware address /proc/net/arp lists for ip on dev
// (any device if dev is empty), lower case; "" if there is no complete
// Ethernet entry for it.
func parseARP(data []byte, ip netip.Addr, dev string) string {
	header, body, _ := strings.Cut(string(data), "\n")
	if !strings.HasPrefix(header, "IP address") {
		return ""
	}
	for line := range strings.Lines(body) {
		// IP address, HW type, Flags, HW address, Mask, Device
		f := strings.Fields(line)
		if len(f) != 6 || (dev != "" && f[5] != dev) {
			continue
		}
		if a, err := netip.ParseAddr(f[0]); err != nil || a != ip {
			continue
		}
		hwType, ok1 := hexFlag(f[1])
		flags, ok2 := hexFlag(f[2])
		if !ok1 || !ok2 || hwType != arphrdEther || flags&atfCom == 0 {
			continue
		}
		mac, err := net.ParseMAC(f[3])
		if err != nil || len(mac) != 6 || [6]byte(mac) == [6]byte{} {
			continue
		}
		return mac.String()
	}
	return ""
}

// hexFlag parses a "0x2"-style number.
func hexFlag(s string) (uint64, bool) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || h == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(h, 16, 32)
	return v, err == nil
}
