package wol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/wire"
)

// TestMain runs the tests in a network namespace of their own when root
// (harness/netns), so whatever the real LAN test sends stays in namespaces
// the test made, and dies with the test process if the test is killed.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run()) // TestRealLAN skips
	}
	netns.Main(m)
}

// TestRealLAN sends through the real Handler and captures what arrives.
//
// The test's own namespace is the relay. It is on two LANs, each a veth
// pair into a namespace of its own:
//
//	LAN A 192.168.77.0/24: relay wolr0 192.168.77.1 — wols0 in "sleeper", MAC 02:77:00:00:00:02, no IP (asleep)
//	LAN B 10.99.0.0/24:    relay wolr1 10.99.0.1    — wolo0 in "other", 10.99.0.2
//
// The sleeper must receive a magic packet for its MAC both as UDP to
// 192.168.77.255:9 and as EtherType 0x0842 to ff:ff:ff:ff:ff:ff; the other
// LAN must receive nothing, and a subnet the relay is not on is refused.
// "Nothing arrived" is proven without timing: after the sends, a marker
// frame goes down the same link, and everything read before the marker is
// checked.
func TestRealLAN(t *testing.T) {
	leak.Check(t)
	if !netns.Inside() {
		t.Skip("needs root: builds network namespaces and veth links")
	}
	sleeperMAC := mustMAC("02:77:00:00:00:02")

	t.Cleanup(func() { // registered first, so it runs after every other cleanup
		for _, name := range []string{"wolr0", "wolr1"} {
			if _, err := net.InterfaceByName(name); err == nil {
				t.Errorf("link %s still exists after the test", name)
			}
		}
	})
	sleeper, other := newNS(t), newNS(t)
	veth(t, "wolr0", "wols0", sleeper)
	veth(t, "wolr1", "wolo0", other)
	ipCmd(t, "addr", "add", "192.168.77.1/24", "broadcast", "+", "dev", "wolr0")
	ipCmd(t, "addr", "add", "10.99.0.1/24", "broadcast", "+", "dev", "wolr1")
	var sleeperCap, otherCap *capture
	sleeper.do(t, func() {
		ipCmd(t, "link", "set", "wols0", "address", sleeperMAC.String())
		ipCmd(t, "link", "set", "wols0", "up")
		sleeperCap = newCapture(t, "wols0")
	})
	other.do(t, func() {
		ipCmd(t, "addr", "add", "10.99.0.2/24", "broadcast", "+", "dev", "wolo0")
		ipCmd(t, "link", "set", "wolo0", "up")
		otherCap = newCapture(t, "wolo0")
	})
	ipCmd(t, "link", "set", "wolr0", "up")
	ipCmd(t, "link", "set", "wolr1", "up")

	h := Handler{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	wake := func(subnet string) *httptest.ResponseRecorder {
		body := fmt.Sprintf(`{"mac":%q,"subnet":%q}`, sleeperMAC, subnet)
		w := httptest.NewRecorder()
		h.ServePeer(w, httptest.NewRequest(http.MethodPost, wire.PeerPathWake, strings.NewReader(body)), gate.Caller{Technician: "alice"})
		return w
	}

	// A subnet the relay is not on: refused, nothing sent anywhere.
	w := wake("172.31.5.0/24")
	var e wire.Error
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusConflict || e.Code != wire.CodeConflict {
		t.Errorf("wake 172.31.5.0/24: %d %s, want 409 %s", w.Code, w.Body, wire.CodeConflict)
	}
	sendMarker(t, "wolr0")
	if got := sleeperCap.untilMarker(t); len(got) != 0 {
		t.Errorf("the sleeper received %q after a refused request", got)
	}

	// LAN A.
	w = wake("192.168.77.0/24")
	if w.Code != http.StatusOK {
		t.Fatalf("wake 192.168.77.0/24: %d %s", w.Code, w.Body)
	}
	var res wire.WakeResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatalf("WakeResult %s: %v", w.Body, err)
	}
	if d := cmp.Diff([]string{"udp 192.168.77.255:9 via wolr0", "ethernet 0x0842 via wolr0"}, res.Sent); d != "" {
		t.Errorf("WakeResult.Sent (-want +got):\n%s", d)
	}
	want := []string{
		"udp 192.168.77.1->192.168.77.255:9 magic " + sleeperMAC.String(),
		"ethernet 0x0842 magic " + sleeperMAC.String(),
	}
	sendMarker(t, "wolr0")
	if d := cmp.Diff(want, sleeperCap.untilMarker(t)); d != "" {
		t.Errorf("the sleeper received (-want +got):\n%s", d)
	}

	// LAN B saw neither the refused request nor the wake-up of LAN A.
	sendMarker(t, "wolr1")
	if got := otherCap.untilMarker(t); len(got) != 0 {
		t.Errorf("the other LAN received %q", got)
	}
}

// ns is a network namespace held open by a file descriptor.
type ns struct{ fd int }

// newNS makes a network namespace; it is freed when the test ends and
// nothing else (a socket, a link) holds it.
func newNS(t *testing.T) ns {
	t.Helper()
	var n ns
	inThread(t, func() {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Fatalf("unshare: %v", err)
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("open the new namespace: %v", err)
		}
		n.fd = fd
	})
	t.Cleanup(func() { unix.Close(n.fd) }) //nolint:errcheck // read-only fd
	return n
}

// path names the namespace for ip(8).
func (n ns) path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), n.fd) }

// do runs f with the calling goroutine's thread in n. Sockets f opens stay
// in n; processes f starts run in n.
func (n ns) do(t *testing.T, f func()) {
	t.Helper()
	inThread(t, func() {
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			t.Fatalf("setns: %v", err)
		}
		f()
	})
}

// inThread runs f on a locked thread and puts the thread back into the
// test's namespace afterwards; a thread that cannot be put back stays
// locked, so it ends with the goroutine instead of running other code.
func inThread(t *testing.T, f func()) {
	t.Helper()
	runtime.LockOSThread()
	home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open the test's namespace: %v", err)
	}
	defer func() {
		err := unix.Setns(home, unix.CLONE_NEWNET)
		unix.Close(home) //nolint:errcheck // read-only fd
		if err != nil {
			t.Fatalf("back to the test's namespace: %v", err)
		}
		runtime.UnlockOSThread()
	}()
	f()
}

// veth makes a veth pair here and moves peer into n; deleting here removes
// both ends.
func veth(t *testing.T, name, peer string, n ns) {
	t.Helper()
	ipCmd(t, "link", "add", name, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { ipCmd(t, "link", "del", name) })
	ipCmd(t, "link", "set", peer, "netns", n.path())
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// markerType is the EtherType of the marker frames (IEEE 802 local
// experimental).
const markerType = 0x88b5

var markerPayload = []byte("peerdesk wol test marker")

// sendMarker broadcasts a marker frame on dev (in the test's namespace).
func sendMarker(t *testing.T, dev string) {
	t.Helper()
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd) //nolint:errcheck // send-only
	to := &unix.SockaddrLinklayer{Protocol: htons(markerType), Ifindex: ifi.Index, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if err := unix.Sendto(fd, markerPayload, 0, to); err != nil {
		t.Fatalf("sending the marker on %s: %v", dev, err)
	}
}

// capture reads every frame that arrives on one interface.
type capture struct {
	dev string
	f   *os.File
}

func newCapture(t *testing.T, dev string) *capture {
	t.Helper()
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd) //nolint:errcheck // failing anyway
		t.Fatal(err)
	}
	c := &capture{dev: dev, f: os.NewFile(uintptr(fd), "capture "+dev)}
	t.Cleanup(func() { c.f.Close() }) //nolint:errcheck // read-only socket
	return c
}

// untilMarker reads incoming frames until a marker frame and returns the
// Wake-on-LAN packets among them, described. The deadline only bounds the
// wait for the marker.
func (c *capture) untilMarker(t *testing.T) []string {
	t.Helper()
	if err := c.f.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	rc, err := c.f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	buf := make([]byte, 1<<16)
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err = errors.Join(err, rerr); err != nil {
			t.Fatalf("capture on %s (waiting for the marker): %v; seen so far %q", c.dev, err, got)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		desc, marker := describeFrame(buf[:n])
		if marker {
			return got
		}
		if desc != "" {
			got = append(got, desc)
		}
	}
}

// describeFrame describes an Ethernet frame if it carries a Wake-on-LAN
// packet (EtherType 0x0842, or UDP to port 7 or 9, or anything whose
// payload parses as magic), and reports whether it is a marker.
func describeFrame(f []byte) (desc string, marker bool) {
	if len(f) < 14 {
		return "", false
	}
	bcast := bytes.Equal(f[:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	payload := f[14:]
	switch binary.BigEndian.Uint16(f[12:14]) {
	case markerType:
		return "", bcast && bytes.HasPrefix(payload, markerPayload)
	case EtherType:
		if mac, err := ParseMagic(payload); err == nil && bcast {
			return "ethernet 0x0842 magic " + mac.String(), false
		}
		return fmt.Sprintf("ethernet 0x0842 not magic (broadcast %t): % x", bcast, payload), false
	case 0x0800:
		if len(payload) < 20 || payload[9] != unix.IPPROTO_UDP {
			return "", false
		}
		ihl := int(payload[0]&0x0f) * 4
		if len(payload) < ihl+8 {
			return "", false
		}
		src := netip.AddrFrom4([4]byte(payload[12:16]))
		dst := netip.AddrFrom4([4]byte(payload[16:20]))
		udp := payload[ihl:]
		port := binary.BigEndian.Uint16(udp[2:4])
		ulen := int(binary.BigEndian.Uint16(udp[4:6]))
		if ulen < 8 || ulen > len(udp) {
			return fmt.Sprintf("udp %s->%s:%d bad length", src, dst, port), false
		}
		mac, err := ParseMagic(udp[8:ulen])
		if err != nil {
			if port == 7 || port == Port {
				return fmt.Sprintf("udp %s->%s:%d not magic", src, dst, port), false
			}
			return "", false
		}
		if !bcast {
			return fmt.Sprintf("udp %s->%s:%d unicast magic %s", src, dst, port, mac), false
		}
		return fmt.Sprintf("udp %s->%s:%d magic %s", src, dst, port, mac), false
	}
	if _, err := ParseMagic(payload); err == nil {
		return fmt.Sprintf("magic in EtherType 0x%04x", binary.BigEndian.Uint16(f[12:14])), false
	}
	return "", false
}
