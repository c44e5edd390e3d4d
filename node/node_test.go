//go:build linux

package node_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/pki"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

func TestMain(m *testing.M) { netns.Main(m) }

func join(t *testing.T, c *harness.Coordinator, name, tag string, dir string) *node.Node {
	t.Helper()
	k, err := c.Overlay().CreateAuthKey(overlay.KeyOptions{Tags: []string{tag}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Dir: dir, Hostname: name, ControlURL: c.URL(), CA: c.Identity().CA, AuthKey: k.Key, Logger: harness.Logger(t)})
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

func TestNode(t *testing.T) {
	leak.Check(t)
	c := harness.StartCoordinator(t)
	agentDir := t.TempDir()
	agent := join(t, c, "agent-1", wire.TagAgent, agentDir)
	tech := join(t, c, "tech-1", wire.TagTech, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	agentIP, err := agent.Addr()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ListenPacket maps udp and the unspecified host", func(t *testing.T) {
		// tsnet alone refuses both "udp" and ":0"; screen sessions need them.
		pc, err := agent.ListenPacket("udp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		if !strings.HasPrefix(pc.LocalAddr().String(), agentIP.String()+":") {
			t.Fatalf("bound to %s, want the overlay address %s", pc.LocalAddr(), agentIP)
		}
		tc, err := tech.Dial(ctx, "udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		got := make(chan string, 1)
		go func() {
			buf := make([]byte, 64)
			n, _, err := pc.ReadFrom(buf)
			if err == nil {
				got <- string(buf[:n])
			}
		}()
		// UDP may be dropped before the path settles: resend until heard.
		deadline := time.After(harness.Timeout)
		for {
			tc.Write([]byte("ping"))
			select {
			case s := <-got:
				if s != "ping" {
					t.Fatalf("got %q", s)
				}
				return
			case <-time.After(100 * time.Millisecond):
			case <-deadline:
				t.Fatal("no datagram arrived over the overlay")
			}
		}
	})

	t.Run("Peers and WhoIs", func(t *testing.T) {
		peers, err := tech.Peers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(peers) != 1 || peers[0].Name != "agent-1" || peers[0].Addr != agentIP || !peers[0].Online {
			t.Fatalf("tech's peers = %+v", peers)
		}
		if _, err := agent.WhoIs(ctx, "100.127.255.254:1"); !errors.Is(err, node.ErrNotPeer) {
			t.Fatalf("WhoIs of a stranger = %v, want ErrNotPeer", err)
		}
		key, err := tech.NodeKey(ctx)
		if err != nil || !strings.HasPrefix(key, "nodekey:") {
			t.Fatalf("NodeKey = %q, %v", key, err)
		}
	})

	t.Run("Dial refuses what is not an overlay address", func(t *testing.T) {
		if _, err := tech.Dial(ctx, "tcp", "localhost:80"); err == nil {
			t.Fatal("dialled a host name")
		}
	})

	t.Run("Close is idempotent and ends use", func(t *testing.T) {
		n := join(t, c, "tech-2", wire.TagTech, t.TempDir())
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if err := n.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := n.Listen("tcp", ":1"); !errors.Is(err, node.ErrClosed) {
			t.Fatalf("Listen after Close = %v", err)
		}
	})

	t.Run("restart keeps identity and control URL without a key", func(t *testing.T) {
		port, err := os.ReadFile(filepath.Join(agentDir, "control-relay.port"))
		if err != nil {
			t.Fatal(err)
		}
		if err := agent.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := node.New(node.Config{Dir: agentDir, Hostname: "agent-1", ControlURL: c.URL(), CA: c.Identity().CA, Logger: harness.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		if err := again.Up(ctx); err != nil {
			t.Fatalf("Up without an auth key after a restart: %v", err)
		}
		ip, err := again.Addr()
		if err != nil || ip != agentIP {
			t.Fatalf("address after restart = %v, %v; want %v", ip, err, agentIP)
		}
		port2, err := os.ReadFile(filepath.Join(agentDir, "control-relay.port"))
		if err != nil || string(port2) != string(port) {
			t.Fatalf("relay port changed: %q → %q", port, port2)
		}
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	leak.Check(t)
	id, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	good := node.Config{Dir: t.TempDir(), Hostname: "x", ControlURL: "https://127.0.0.1:1", CA: id.CA}
	if _, err := node.New(good); err != nil {
		t.Fatalf("a good config was refused: %v", err)
	}
	for name, edit := range map[string]func(*node.Config){
		"no dir":       func(c *node.Config) { c.Dir = "" },
		"plain http":   func(c *node.Config) { c.ControlURL = "http://127.0.0.1:1" },
		"no CA":        func(c *node.Config) { c.CA = nil },
		"no host name": func(c *node.Config) { c.Hostname = "" },
	} {
		cfg := good
		edit(&cfg)
		if _, err := node.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
