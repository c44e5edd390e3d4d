//go:build linux

package relay_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/overlaynet"
	"github.com/peerdesk/peerdesk/viewer/relay"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/turn/v5"
)

func TestMain(m *testing.M) { netns.Main(m) }

func join(t *testing.T, c *harness.Coordinator, name, tag string) *node.Node {
	t.Helper()
	k, err := c.Overlay().CreateAuthKey(overlay.KeyOptions{Tags: []string{tag}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Dir: t.TempDir(), Hostname: name, ControlURL: c.URL(), CA: c.Identity().CA, AuthKey: k.Key, Logger: harness.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	if err := n.Up(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// client allocates on the relay as a browser would.
func client(t *testing.T, r *relay.Relay, cred relay.Credentials) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() }) // last: the client's reader ends with it (turn's Close leaves it open)
	addr := strings.TrimSuffix(strings.TrimPrefix(cred.URLs[0], "turn:"), "?transport=udp")
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: addr, STUNServerAddr: addr, Username: cred.Username, Password: cred.Credential, Realm: relay.Realm, Conn: pc})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	alloc, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alloc.Close() })
	return alloc
}

// TestRelayCarriesUDPOntoTheOverlay: a loopback TURN client reaches an
// overlay peer through the relay and hears its answer; it cannot reach
// another peer than its credentials name.
func TestRelayCarriesUDPOntoTheOverlay(t *testing.T) {
	leak.Check(t)
	c := harness.StartCoordinator(t)
	tech := join(t, c, "tech", wire.TagTech)
	agent := join(t, c, "agent", wire.TagAgent)
	agentIP, err := agent.Addr()
	if err != nil {
		t.Fatal(err)
	}
	onet, err := overlaynet.New(agent)
	if err != nil {
		t.Fatal(err)
	}
	sock, err := onet.ListenUDP("udp4", &net.UDPAddr{IP: agentIP.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	go func() { // echo
		buf := make([]byte, 1500)
		for {
			n, from, err := sock.ReadFrom(buf)
			if err != nil {
				return
			}
			sock.WriteTo(append([]byte("echo:"), buf[:n]...), from)
		}
	}()

	r, err := relay.New(tech, harness.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// As the viewer does before handing out credentials: make sure the
	// WireGuard path is up, so the first packets are not lost to a
	// handshake the agent cannot yet answer.
	rctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	if err := tech.Reach(rctx, agentIP); err != nil {
		t.Fatal(err)
	}
	alloc := client(t, r, r.Allow(agentIP))
	target := sock.LocalAddr()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := alloc.ReadFrom(buf)
			if err != nil {
				return
			}
			if ap, err := netip.ParseAddrPort(from.String()); err == nil && ap.Addr() == agentIP {
				got <- string(buf[:n])
				return
			}
		}
	}()
	deadline := time.After(harness.Timeout)
	for {
		if _, err := alloc.WriteTo([]byte("ping"), target); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if s != "echo:ping" {
				t.Fatalf("got %q", s)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no answer through the relay")
		}
	}
}

// TestRelayRefusesOtherPeers: credentials for one agent do not relay to
// another overlay address.
func TestRelayRefusesOtherPeers(t *testing.T) {
	leak.Check(t)
	c := harness.StartCoordinator(t)
	tech := join(t, c, "tech", wire.TagTech)
	agent := join(t, c, "agent", wire.TagAgent)
	other := join(t, c, "other", wire.TagAgent)
	agentIP, _ := agent.Addr()
	otherIP, _ := other.Addr()
	onet, err := overlaynet.New(other)
	if err != nil {
		t.Fatal(err)
	}
	sock, err := onet.ListenUDP("udp4", &net.UDPAddr{IP: otherIP.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	got := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 1500)
		if _, _, err := sock.ReadFrom(buf); err == nil {
			got <- struct{}{}
		}
	}()
	r, err := relay.New(tech, harness.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	if err := tech.Reach(ctx, otherIP); err != nil {
		t.Fatal(err)
	}
	alloc := client(t, r, r.Allow(agentIP))
	// A TURN client asks the relay for a permission before its first
	// packet to an address, and sends nothing if it is refused: the
	// relay's answer to each try is the event that decides the test.
	for i := range 3 {
		_, err := alloc.WriteTo([]byte("sneak"), sock.LocalAddr())
		if err == nil || !strings.Contains(err.Error(), "error 403") {
			t.Fatalf("try %d to reach an agent the credentials do not name: %v, want the relay's 403 (Forbidden)", i+1, err)
		}
	}
	// Refused before anything was sent, so nothing is on its way.
	select {
	case <-got:
		t.Fatal("the relay carried a packet to an agent its credentials do not name")
	default:
	}
}
