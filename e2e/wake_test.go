package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerdesk/peerdesk/agent/wol"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// TestWakeThroughPeer: a technician wakes a sleeping machine. The
// coordinator picks the real agent on the machine's LAN as the relay, the
// technician's viewer asks it over the overlay, and the magic packet for
// the sleeping machine's MAC arrives on that LAN, as UDP to port 9 and as
// an EtherType 0x0842 frame. The LAN is a veth pair in the test's own
// namespace; what the relay sends is captured on the far end.
func TestWakeThroughPeer(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t) // pdnowhere0, 10.254.253.1/24: the relay's LAN
	if out, err := exec.Command("ip", "route", "add", "default", "via", "10.254.253.254", "dev", "pdnowhere0").CombinedOutput(); err != nil {
		t.Fatalf("default route: %v: %s", err, out)
	}
	capture := listen(t, "pdnowhere0p")

	c := harness.StartCoordinator(t)
	c.AddTechnician(t, "bob")
	relay := c.EnrollAgent(t, "relay-pc")

	// The sleeping machine reported its network before it went to sleep.
	ca, err := trust.FetchCA(context.Background(), c.URL(), c.Pin())
	if err != nil {
		t.Fatal(err)
	}
	client := coordclient.New(c.URL(), ca)
	enr, err := client.Enroll(context.Background(), wire.EnrollRequest{Token: c.Token(t, time.Hour), MachineID: harness.NewMachineID(), Hostname: "sleeper", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	sleeperMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	if err := client.WithDevice(enr.DeviceID, enr.DeviceSecret).Inventory(context.Background(), wire.Inventory{
		Hostname: "sleeper", OS: "linux", Gateway: "10.254.253.254",
		Interfaces: []wire.NetIf{{Name: "eth0", MAC: sleeperMAC.String(), Addrs: []string{"10.254.253.42/24"}}},
	}); err != nil {
		t.Fatal(err)
	}

	v := c.LoginViewer(t, "bob")
	// Wait until the sleeper counts as offline (the harness's heartbeat
	// grace) and the relay's own inventory, with its gateway, is in.
	wait.ForErr(t, "the sleeper to go offline and the relay to report its gateway", func() error {
		devs, err := try(v.Devices)
		if err != nil {
			return err
		}
		ready := 0
		for _, d := range devs {
			if d.ID == enr.DeviceID && !d.Online || d.ID == relay.DeviceID() && d.Online && d.Inventory != nil && d.Inventory.Gateway == "10.254.253.254" {
				ready++
			}
		}
		if ready < 2 {
			return fmt.Errorf("devices: %+v", devs)
		}
		return nil
	})

	by, res, err := v.Wake(context.Background(), enr.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("relay %s sent: %v", by, res.Sent)
	if by != relay.DeviceID() {
		t.Fatalf("relayed by %s, want the agent on the LAN %s", by, relay.DeviceID())
	}
	// Each look at the LAN is one frame, or none within the capture's
	// receive timeout.
	got := map[string]bool{}
	wait.For(t, "magic packets for the sleeper on the LAN as udp and ethernet", func() bool {
		if kind, mac, ok := capture.next(); ok && slices.Equal(mac, sleeperMAC) {
			got[kind] = true
		}
		return got["udp"] && got["ethernet"]
	})
	if !slices.ContainsFunc(res.Sent, func(s string) bool { return strings.HasPrefix(s, "udp 10.254.253.255:9") }) {
		t.Errorf("the relay reports %v", res.Sent)
	}
}

// capture reads frames arriving on one interface.
type capture struct{ fd int }

func listen(t *testing.T, ifname string) *capture {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	const all = uint16(unix.ETH_P_ALL)
	proto := int(all<<8 | all>>8) // network byte order, on a little-endian machine
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	tv := unix.Timeval{Sec: 0, Usec: 200_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return &capture{fd: fd}
}

// next returns the next frame's magic packet, if it carries one: as the
// payload of EtherType 0x0842 ("ethernet") or of IPv4 UDP to port 9 ("udp").
func (c *capture) next() (kind string, mac net.HardwareAddr, ok bool) {
	buf := make([]byte, 2048)
	n, _, err := unix.Recvfrom(c.fd, buf, 0)
	if err != nil || n < 14 {
		return "", nil, false
	}
	frame := buf[:n]
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case wol.EtherType:
		mac, err := wol.ParseMagic(frame[14 : 14+min(len(frame)-14, wol.MagicSize)])
		return "ethernet", mac, err == nil
	case 0x0800:
		ip := frame[14:]
		if len(ip) < 20 || ip[9] != unix.IPPROTO_UDP {
			return "", nil, false
		}
		udp := ip[int(ip[0]&0x0f)*4:]
		if len(udp) < 8 || binary.BigEndian.Uint16(udp[2:4]) != wol.Port {
			return "", nil, false
		}
		end := min(len(udp), int(binary.BigEndian.Uint16(udp[4:6])))
		if end < 8 {
			return "", nil, false
		}
		mac, err := wol.ParseMagic(udp[8:end])
		return "udp", mac, err == nil
	}
	return "", nil, false
}
