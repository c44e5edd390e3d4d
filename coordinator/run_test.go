package coordinator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/netns"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { netns.Main(m) }

// TestRunEndsWhatItStarted: when Run returns, nothing it started runs,
// although a node is still connected to it: no HTTP server or handler,
// none of the control plane's connections (Noise, DERP), no store.
func TestRunEndsWhatItStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("overlay node: skipped in -short")
	}
	before := goleak.IgnoreCurrent()
	c, err := coordinator.New(coordinator.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", STUNListen: "127.0.0.1:0",
		OverlayWriteBatch: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	k, err := c.Overlay().CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagAgent}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Dir: t.TempDir(), Hostname: "agent-1", ControlURL: c.URL(), CA: c.Identity().CA, AuthKey: k.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close() // after the check: the node stays connected through it
	upCtx, upCancel := context.WithTimeout(ctx, wait.Timeout)
	defer upCancel()
	if err := n.Up(upCtx); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the node to be online (long-polling)", func() bool {
		nodes := c.Overlay().Nodes()
		return len(nodes) == 1 && nodes[0].Online
	})

	cancel()
	if err := wait.Recv(t, "Run to return", done); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// The node's own goroutines still run: leak.Find reports them, and
	// this test looks only at the coordinator's among them.
	err = leak.Find(before)
	if err == nil {
		t.Fatal("no goroutine left at all: the node is still running, so the check itself is wrong")
	}
	var left []string
	for _, g := range strings.Split(err.Error(), "Goroutine ")[1:] {
		if coordinators(g) {
			left = append(left, "Goroutine "+g)
		}
	}
	if len(left) > 0 {
		t.Errorf("%d of the coordinator's goroutines still run after Run returned:\n%s", len(left), strings.Join(left, "\n"))
	}
}

// coordinators reports whether a goroutine's stack is the coordinator's:
// its own code, its HTTP servers and handlers, the control plane, the
// DERP server, the store. The node serves HTTP too, over tsnet's
// in-memory listeners: those are not the coordinator's.
func coordinators(stack string) bool {
	if strings.Contains(stack, "tailscale.com/tsnet.") || strings.Contains(stack, "tailscale.com/net/memnet.") {
		return false
	}
	for _, s := range []string{
		"github.com/peerdesk/peerdesk/coordinator",
		"github.com/juanfont/headscale/",
		"net/http.(*conn).serve",
		"net/http.(*Server).Serve",
		"golang.org/x/net/http2.(*serverConn)",
		"tailscale.com/derp/derpserver.",
		"github.com/dgraph-io/badger",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
