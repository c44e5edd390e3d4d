//go:build linux

package node_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// lines is an io.Writer that keeps what a text logger writes, for looking
// through after the fact.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// pathLog keeps the lines of a node's debug log that say how its packets
// found (or missed) their paths: relay, disco and WireGuard handshakes.
func pathLog(all string) string {
	var b strings.Builder
	for line := range strings.Lines(all) {
		for _, k := range []string{"derp", "disco", "Handshake", "handshake", "home relay", "endpoints changed", "netcheck: [v1] report"} {
			if strings.Contains(line, k) {
				b.WriteString(line)
				break
			}
		}
	}
	return b.String()
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestRestartKeepsPort: a node restarted from its state directory binds
// the WireGuard port it had, so a peer that still sends to the old address
// answers its first handshake. On a new port that answer went to the dead
// process's port and the handshake was retried after 5 s — every
// peerdesk-viewer command waited 5 s before its first byte.
func TestRestartKeepsPort(t *testing.T) {
	leak.Check(t)
	c := harness.StartCoordinator(t)
	agent := join(t, c, "agent-1", wire.TagAgent, t.TempDir())
	agentIP, err := agent.Addr()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := agent.Listen("tcp", ":7070")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				io.Copy(conn, conn)
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	echo := func(n *node.Node) {
		t.Helper()
		conn, err := n.Dial(ctx, "tcp", netip.AddrPortFrom(agentIP, 7070).String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(harness.Timeout))
		if _, err := conn.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	tech := join(t, c, "tech-1", wire.TagTech, dir)
	echo(tech)
	first, err := os.ReadFile(filepath.Join(dir, "wireguard.port"))
	if err != nil {
		t.Fatalf("the WireGuard port was not kept: %v", err)
	}
	if err := tech.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart gets its own time: the close above may have used some.
	ctx, cancel = context.WithTimeout(context.Background(), harness.Timeout)
	defer cancel()
	var log lines
	again, err := node.New(node.Config{Dir: dir, Hostname: "tech-1", ControlURL: c.URL(), CA: c.Identity().CA,
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Up(ctx); err != nil {
		t.Fatal(err)
	}
	echo(again)
	if strings.Contains(log.String(), "Handshake did not complete") {
		t.Errorf("the restarted node's first handshake went unanswered and was retried; its path log:\n%s", pathLog(log.String()))
	}
	second, err := os.ReadFile(filepath.Join(dir, "wireguard.port"))
	if err != nil || string(second) != string(first) {
		t.Fatalf("WireGuard port %q after the restart, %q before (%v)", second, first, err)
	}
}
