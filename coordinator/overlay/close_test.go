package overlay_test

import (
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
	"go.uber.org/goleak"
)

// TestCloseEndsControlConnections: once Close returns, nothing of
// Headscale's runs for a node that is still connected — not its Noise
// connection's HTTP/2 server, not its long-poll or the long-poll's
// cleanup, not its DERP connection — so nothing logs through zerolog's
// globals or writes the closed store (third_party/headscale/PEERDESK.md,
// change 5). Since change 4, Headscale served each Noise connection from
// a goroutine that nothing waited for, and the next coordinator in the
// process raced with it.
func TestCloseEndsControlConnections(t *testing.T) {
	before := goleak.IgnoreCurrent()
	c := startCoordinator(t)
	c.join(t, "agent-1", wire.TagAgent, false) // closed by its cleanup, after the check
	wait.For(t, "the node to be online (long-polling)", func() bool {
		nodes := c.ov.Nodes()
		return len(nodes) == 1 && nodes[0].Online
	})

	c.close()

	// The node's own goroutines are still running: leak.Find reports
	// them, and this test looks only at the server's among them.
	err := leak.Find(before)
	if err == nil {
		t.Fatal("no goroutine left at all: the node is still running, so the check itself is wrong")
	}
	var served []string
	for _, g := range strings.Split(err.Error(), "Goroutine ")[1:] {
		if servesNodes(g) {
			served = append(served, "Goroutine "+g)
		}
	}
	if len(served) > 0 {
		t.Errorf("%d goroutines serving nodes still run after Close returned:\n%s", len(served), strings.Join(served, "\n"))
	}
}

// servesNodes reports whether a goroutine's stack is the control plane's
// serving a node: Headscale's code, its Noise connections' HTTP/2
// servers, or the DERP server it embeds.
func servesNodes(stack string) bool {
	for _, s := range []string{
		"github.com/juanfont/headscale/",
		"golang.org/x/net/http2.(*serverConn)",
		"tailscale.com/derp/derpserver.",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
