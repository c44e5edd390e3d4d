//go:build linux

package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Attempt is one packet that left for a non-local address.
type Attempt struct {
	Dst   netip.Addr
	Proto uint8  // IP protocol number
	Port  uint16 // destination port for TCP and UDP
}

func (a Attempt) String() string {
	switch a.Proto {
	case unix.IPPROTO_TCP:
		return fmt.Sprintf("tcp %s:%d", a.Dst, a.Port)
	case unix.IPPROTO_UDP:
		return fmt.Sprintf("udp %s:%d", a.Dst, a.Port)
	}
	return fmt.Sprintf("proto %d to %s", a.Proto, a.Dst)
}

// Blackhole gives the current (test) namespace a default route into an
// interface that leads nowhere and watches it: every packet the kernel routes towards any
// non-local address leaves through that interface and is recorded. The
// route has a gateway, as on a real LAN, so probes of the gateway (UPnP,
// NAT-PMP, PCP) are made — and caught — too. With
// only loopback, such a packet would fail with "network unreachable"
// before the kernel ever built it; the blackhole makes every such attempt
// visible.
type Blackhole struct {
	Iface string
	fd    int

	mu       sync.Mutex
	attempts []Attempt
	done     chan struct{}
}

// NewBlackhole sets the interface up; Close removes it. It must run inside
// the namespace Main made.
func NewBlackhole(name string) (*Blackhole, error) {
	if !Inside() {
		return nil, errors.New("netns: a blackhole may only be made inside the test's own namespace")
	}
	for _, args := range [][]string{
		// A veth pair whose far end goes nowhere (the "dummy" link type
		// needs a kernel module that is not always there). ARP is off so
		// packets leave at once instead of waiting for a neighbour.
		{"link", "add", name, "type", "veth", "peer", "name", name + "p"},
		{"link", "set", name, "arp", "off"},
		{"addr", "add", "10.255.255.1/24", "dev", name},
		{"link", "set", name + "p", "up"},
		{"link", "set", name, "up"},
		{"route", "add", "default", "via", "10.255.255.254", "dev", name},
		{"-6", "route", "add", "default", "dev", name},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "link", "del", name).Run() //nolint:errcheck // best effort cleanup
			return nil, fmt.Errorf("netns: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, fmt.Errorf("netns: packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netns: bind: %w", err)
	}
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	b := &Blackhole{Iface: name, fd: fd, done: make(chan struct{})}
	go b.read(fd)
	return b, nil
}

func (b *Blackhole) read(fd int) {
	defer close(b.done)
	buf := make([]byte, 65536)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			b.mu.Lock()
			closed := b.fd < 0
			b.mu.Unlock()
			if closed {
				return
			}
			continue
		}
		if err != nil {
			return
		}
		if a, ok := parse(buf[:n]); ok {
			b.mu.Lock()
			b.attempts = append(b.attempts, a)
			b.mu.Unlock()
		}
	}
}

// parse reads an IP packet. The kernel's own IPv6 housekeeping on the new
// link (router solicitation, duplicate-address detection, MLD) goes to
// link-local multicast (ff02::/16) and is not counted.
func parse(p []byte) (Attempt, bool) {
	if len(p) < 1 {
		return Attempt{}, false
	}
	var a Attempt
	var l4 []byte
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return a, false
		}
		// Every IPv4 packet counts; a malformed header length only means
		// no port is read.
		ihl := int(p[0]&0x0f) * 4
		a.Dst, _ = netip.AddrFromSlice(p[16:20])
		a.Proto = p[9]
		if ihl >= 20 && len(p) >= ihl {
			l4 = p[ihl:]
		}
	case 6:
		if len(p) < 40 {
			return a, false
		}
		a.Dst, _ = netip.AddrFromSlice(p[24:40])
		a.Proto = p[6]
		l4 = p[40:]
		if a.Dst.IsLinkLocalMulticast() {
			return a, false
		}
	default:
		return a, false
	}
	if (a.Proto == unix.IPPROTO_TCP || a.Proto == unix.IPPROTO_UDP) && len(l4) >= 4 {
		a.Port = binary.BigEndian.Uint16(l4[2:4])
	}
	return a, true
}

// Attempts returns what has been seen so far.
func (b *Blackhole) Attempts() []Attempt {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Attempt(nil), b.attempts...)
}

// Reset forgets what has been seen.
func (b *Blackhole) Reset() {
	b.mu.Lock()
	b.attempts = nil
	b.mu.Unlock()
}

// Close stops watching and removes the interface.
func (b *Blackhole) Close() error {
	b.mu.Lock()
	fd := b.fd
	b.fd = -1
	b.mu.Unlock()
	if fd >= 0 {
		<-b.done
		unix.Close(fd)
	}
	if out, err := exec.Command("ip", "link", "del", b.Iface).CombinedOutput(); err != nil {
		return fmt.Errorf("netns: removing %s: %v: %s", b.Iface, err, out)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
