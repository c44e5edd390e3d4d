//go:build linux

package netns

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

// ipv4 builds an IPv4 packet with a header of ihl 32-bit words (options
// zeroed) followed by payload.
func ipv4(ihl int, proto uint8, dst string, payload []byte) []byte {
	p := make([]byte, ihl*4, ihl*4+len(payload))
	p[0] = 4<<4 | byte(ihl)
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)+len(payload)))
	p[8] = 64 // TTL
	p[9] = proto
	src := netip.MustParseAddr("10.255.255.1").As4()
	copy(p[12:16], src[:])
	d := netip.MustParseAddr(dst).As4()
	copy(p[16:20], d[:])
	return append(p, payload...)
}

// ipv6 builds an IPv6 packet with next header proto followed by payload.
func ipv6(proto uint8, dst string, payload []byte) []byte {
	p := make([]byte, 40, 40+len(payload))
	p[0] = 6 << 4
	binary.BigEndian.PutUint16(p[4:6], uint16(len(payload)))
	p[6] = proto
	p[7] = 64 // hop limit
	src := netip.MustParseAddr("fe80::1").As16()
	copy(p[8:24], src[:])
	d := netip.MustParseAddr(dst).As16()
	copy(p[24:40], d[:])
	return append(p, payload...)
}

// ports is the start of a TCP or UDP header.
func ports(src, dst uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:2], src)
	binary.BigEndian.PutUint16(b[2:4], dst)
	return b
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
		want Attempt
		ok   bool
	}{
		{"IPv4 UDP", ipv4(5, unix.IPPROTO_UDP, "192.168.1.1", ports(40000, 5351)),
			Attempt{Dst: netip.MustParseAddr("192.168.1.1"), Proto: unix.IPPROTO_UDP, Port: 5351}, true},
		{"IPv4 TCP", ipv4(5, unix.IPPROTO_TCP, "203.0.113.7", ports(40001, 443)),
			Attempt{Dst: netip.MustParseAddr("203.0.113.7"), Proto: unix.IPPROTO_TCP, Port: 443}, true},
		{"IPv4 with options", ipv4(6, unix.IPPROTO_UDP, "10.255.255.254", ports(1900, 1900)),
			Attempt{Dst: netip.MustParseAddr("10.255.255.254"), Proto: unix.IPPROTO_UDP, Port: 1900}, true},
		{"IPv4 multicast is counted", ipv4(5, unix.IPPROTO_UDP, "239.255.255.250", ports(1900, 1900)),
			Attempt{Dst: netip.MustParseAddr("239.255.255.250"), Proto: unix.IPPROTO_UDP, Port: 1900}, true},
		{"IPv4 ICMP has no port", ipv4(5, unix.IPPROTO_ICMP, "8.8.8.8", []byte{8, 0, 0, 0, 0, 1, 0, 1}),
			Attempt{Dst: netip.MustParseAddr("8.8.8.8"), Proto: unix.IPPROTO_ICMP}, true},
		{"IPv4 UDP cut before the port", ipv4(5, unix.IPPROTO_UDP, "192.0.2.1", []byte{0x9c, 0x40, 0x14}),
			Attempt{Dst: netip.MustParseAddr("192.0.2.1"), Proto: unix.IPPROTO_UDP}, true},
		{"IPv4 header longer than the packet", ipv4(15, unix.IPPROTO_TCP, "192.0.2.2", nil)[:24],
			Attempt{Dst: netip.MustParseAddr("192.0.2.2"), Proto: unix.IPPROTO_TCP}, true},
		{"IPv6 UDP", ipv6(unix.IPPROTO_UDP, "2001:db8::1", ports(40000, 3478)),
			Attempt{Dst: netip.MustParseAddr("2001:db8::1"), Proto: unix.IPPROTO_UDP, Port: 3478}, true},
		{"IPv6 TCP", ipv6(unix.IPPROTO_TCP, "2606:4700::1111", ports(40000, 443)),
			Attempt{Dst: netip.MustParseAddr("2606:4700::1111"), Proto: unix.IPPROTO_TCP, Port: 443}, true},
		{"IPv6 site multicast is counted", ipv6(unix.IPPROTO_UDP, "ff05::c", ports(1900, 1900)),
			Attempt{Dst: netip.MustParseAddr("ff05::c"), Proto: unix.IPPROTO_UDP, Port: 1900}, true},
		{"IPv6 router solicitation to ff02::2", ipv6(unix.IPPROTO_ICMPV6, "ff02::2", []byte{133, 0, 0, 0, 0, 0, 0, 0}), Attempt{}, false},
		{"IPv6 MLD to ff02::16", ipv6(0, "ff02::16", make([]byte, 8)), Attempt{}, false},
		{"IPv6 UDP to ff02::fb (mDNS)", ipv6(unix.IPPROTO_UDP, "ff02::fb", ports(5353, 5353)), Attempt{}, false},
		{"empty", nil, Attempt{}, false},
		{"IPv4 header cut short", ipv4(5, unix.IPPROTO_UDP, "192.0.2.1", nil)[:19], Attempt{}, false},
		{"IPv6 header cut short", ipv6(unix.IPPROTO_UDP, "2001:db8::1", nil)[:39], Attempt{}, false},
		{"version 0", make([]byte, 60), Attempt{}, false},
		{"version 5", append([]byte{5 << 4}, make([]byte, 59)...), Attempt{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parse(tc.pkt)
			if ok != tc.ok {
				t.Fatalf("parse ok = %v, want %v (attempt %v)", ok, tc.ok, got)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Fatalf("parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAttemptString(t *testing.T) {
	for _, tc := range []struct {
		a    Attempt
		want string
	}{
		{Attempt{Dst: netip.MustParseAddr("192.168.1.1"), Proto: unix.IPPROTO_UDP, Port: 5351}, "udp 192.168.1.1:5351"},
		{Attempt{Dst: netip.MustParseAddr("203.0.113.7"), Proto: unix.IPPROTO_TCP, Port: 443}, "tcp 203.0.113.7:443"},
		{Attempt{Dst: netip.MustParseAddr("8.8.8.8"), Proto: unix.IPPROTO_ICMP}, "proto 1 to 8.8.8.8"},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// FuzzParse: parse never panics; for IPv4 with a whole header it reports
// the destination in bytes 16..20 and the protocol in byte 9; for IPv6 the
// destination in bytes 24..40, ignoring link-local multicast; ports come
// from the transport header when it is there.
func FuzzParse(f *testing.F) {
	for _, seed := range [][]byte{
		ipv4(5, unix.IPPROTO_UDP, "192.168.1.1", ports(40000, 5351)),
		ipv4(6, unix.IPPROTO_TCP, "203.0.113.7", ports(40001, 443)),
		ipv4(5, unix.IPPROTO_ICMP, "8.8.8.8", nil),
		ipv4(15, unix.IPPROTO_TCP, "192.0.2.2", nil)[:24],
		append([]byte{0x40}, ipv4(5, unix.IPPROTO_UDP, "192.0.2.3", ports(1, 2))[1:]...), // IHL 0
		ipv6(unix.IPPROTO_UDP, "2001:db8::1", ports(40000, 3478)),
		ipv6(unix.IPPROTO_ICMPV6, "ff02::2", []byte{133, 0, 0, 0}),
		ipv6(unix.IPPROTO_TCP, "::1", ports(1, 2))[:42],
		{},
		{0x45},
		{0x60},
		{0xff, 0xff},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		a, ok := parse(p)
		var l4 []byte
		switch {
		case len(p) >= 20 && p[0]>>4 == 4:
			if !ok {
				t.Fatal("an IPv4 packet with a whole header was not counted")
			}
			if want := netip.AddrFrom4([4]byte(p[16:20])); a.Dst != want {
				t.Fatalf("Dst = %v, want %v", a.Dst, want)
			}
			if a.Proto != p[9] {
				t.Fatalf("Proto = %d, want %d", a.Proto, p[9])
			}
			ihl := int(p[0]&0x0f) * 4
			if ihl < 20 {
				return // a malformed header: any port will do, as long as nothing panics
			}
			if len(p) >= ihl {
				l4 = p[ihl:]
			}
		case len(p) >= 40 && p[0]>>4 == 6:
			want := netip.AddrFrom16([16]byte(p[24:40]))
			if ok == want.IsLinkLocalMulticast() {
				t.Fatalf("IPv6 to %v: counted = %v", want, ok)
			}
			if !ok {
				return
			}
			if a.Dst != want || a.Proto != p[6] {
				t.Fatalf("parse = %+v, want Dst %v, Proto %d", a, want, p[6])
			}
			l4 = p[40:]
		default:
			if ok {
				t.Fatalf("parse counted %x as %v", p, a)
			}
			return
		}
		var port uint16
		if (a.Proto == unix.IPPROTO_TCP || a.Proto == unix.IPPROTO_UDP) && len(l4) >= 4 {
			port = binary.BigEndian.Uint16(l4[2:4])
		}
		if a.Port != port {
			t.Fatalf("Port = %d, want %d", a.Port, port)
		}
	})
}
