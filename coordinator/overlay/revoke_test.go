package overlay_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/envknob"
	"tailscale.com/net/netmon"
	"tailscale.com/tstest"
	"tailscale.com/types/key"
)

// onlyDERP makes nodes started from now on in this test use the DERP
// relay as their only path (magicsock binds no UDP socket).
func onlyDERP(t *testing.T) {
	envknob.Setenv("TS_DEBUG_ALWAYS_USE_DERP", "true")
	t.Cleanup(func() { envknob.Setenv("TS_DEBUG_ALWAYS_USE_DERP", "") })
}

// echo serves "hello" on the node's peer port until the test ends.
func echo(t *testing.T, n *node.Node) {
	ln, err := n.Listen("tcp", fmt.Sprintf(":%d", wire.PeerPort))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(conn, "hello")
			conn.Close()
		}
	}()
}

func nodeKey(t *testing.T, n *node.Node) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	k, err := n.NodeKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func peerKeys(t *testing.T, n *node.Node) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	peers, err := n.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range peers {
		out = append(out, p.NodeKey)
	}
	return out
}

// TestM4DERPRefusesForeignClient: the coordinator's DERP relay serves
// its own nodes only. Two joined nodes whose only path is the relay
// still reach each other through it; a DERP client with a node key that
// is no node of this overlay is refused right after its handshake.
// Before, the embedded relay ran with ServerVerifyClients off and
// relayed for anyone who could reach the coordinator's port.
func TestM4DERPRefusesForeignClient(t *testing.T) {
	onlyDERP(t)
	c := startCoordinator(t)
	agent := c.join(t, "agent-1", wire.TagAgent, false)
	tech := c.join(t, "tech-1", wire.TagTech, true)
	echo(t, agent)
	agentIP, err := agent.Addr()
	if err != nil {
		t.Fatal(err)
	}
	agentKey, techKey := nodeKey(t, agent), nodeKey(t, tech)

	// The joined nodes relay.
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	conn, err := tech.Dial(ctx, "tcp", fmt.Sprintf("%s:%d", agentIP, wire.PeerPort))
	if err != nil {
		t.Fatalf("a joined node cannot reach another through the relay: %v", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil || line != "hello\n" {
		t.Fatalf("through the relay: %q, %v", line, err)
	}
	peers, err := tech.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if p.NodeKey == agentKey && p.Direct != "" {
			t.Fatalf("the path is direct (%s), not relayed: the test proves nothing", p.Direct)
		}
	}
	wait.For(t, "both nodes on the relay", func() bool {
		on := c.ov.DERPClients()
		return slices.Contains(on, agentKey) && slices.Contains(on, techKey)
	})

	// A stranger is refused.
	pool := x509.NewCertPool()
	pool.AddCert(c.id.CA)
	stranger := key.NewNode()
	dc, err := derphttp.NewClient(stranger, c.url+"/derp", t.Logf, netmon.NewStatic())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	dc.TLSConfig = &tls.Config{RootCAs: pool}
	type recv struct {
		m   derp.ReceivedMessage
		err error
	}
	got := make(chan recv, 1)
	go func() {
		// An admitted client's first message is the server's info; a
		// refused one's connection is closed after the handshake.
		if err := dc.Connect(ctx); err != nil {
			got <- recv{err: err}
			return
		}
		m, err := dc.Recv()
		got <- recv{m, err}
	}()
	r := wait.Recv(t, "the stranger's first message or refusal", got)
	if r.err == nil {
		t.Fatalf("a client with a foreign node key was admitted: first message %T", r.m)
	}
	t.Logf("stranger refused: %v", r.err)
	if on := c.ov.DERPClients(); slices.Contains(on, stranger.Public().String()) {
		t.Fatalf("the stranger is listed among the relay's clients: %v", on)
	}
}

// TestM5RemovedNodeLeavesPeers: revoking the pre-auth key a device
// joined with deletes its node; a technician's node drops it from its
// peers within 5 s, its relayed connection ends, and the key is gone.
// Before, no call removed a device's overlay node.
func TestM5RemovedNodeLeavesPeers(t *testing.T) {
	c := startCoordinator(t)
	k, err := c.ov.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagAgent}})
	if err != nil {
		t.Fatal(err)
	}
	agent := c.joinWith(t, "agent-1", k)
	tech := c.join(t, "tech-1", wire.TagTech, true)
	agentKey := nodeKey(t, agent)
	wait.For(t, "the technician to see the agent", func() bool { return slices.Contains(peerKeys(t, tech), agentKey) })
	wait.For(t, "the agent on the relay", func() bool { return slices.Contains(c.ov.DERPClients(), agentKey) })

	n, err := c.ov.RevokeAuthKey(k.ID)
	if err != nil || n != 1 {
		t.Fatalf("RevokeAuthKey = %d, %v; want 1 node", n, err)
	}
	took := wait.Within(t, 5*time.Second, "the technician to drop the removed agent", func() bool {
		return !slices.Contains(peerKeys(t, tech), agentKey)
	})
	t.Logf("the technician dropped the agent %v after its removal", took)
	if _, err := c.ov.NodeByKey(agentKey); !errors.Is(err, overlay.ErrNotFound) {
		t.Fatalf("the removed node is still known: %v", err)
	}
	keys, err := c.ov.AuthKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, ak := range keys {
		if ak.ID == k.ID {
			t.Fatalf("the removed device's key %d is still stored", k.ID)
		}
	}
	wait.For(t, "the removed agent's relayed connection to end", func() bool {
		return !slices.Contains(c.ov.DERPClients(), agentKey)
	})
	if _, err := c.ov.RevokeAuthKey(k.ID); err != nil {
		t.Fatalf("revoking again: %v", err)
	}
}

// agentKeys mints keys as the coordinator does for enrolling agents.
type agentKeys struct{ ov *overlay.Server }

func (k agentKeys) Mint() (uint64, string, error) {
	a, err := k.ov.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagAgent}})
	return a.ID, a.Key, err
}

func (k agentKeys) Delete(id uint64) error { return k.ov.DeleteAuthKey(id) }

// TestL1BogusTokenMintsNoKey: an enrollment with a wrong token leaves
// Headscale's pre-auth keys as they were; a good one adds exactly one.
// Before, the API minted the key first and the token was checked after,
// and nothing deleted the key.
func TestL1BogusTokenMintsNoKey(t *testing.T) {
	c := startCoordinator(t)
	db, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := enroll.New(db, nil)
	stored := func() []uint64 {
		t.Helper()
		keys, err := c.ov.AuthKeys()
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint64
		for _, k := range keys {
			ids = append(ids, k.ID)
		}
		return ids
	}
	before := stored()
	machine := strings.Repeat("a", 64)
	tok, _, err := reg.CreateToken(0, "", "ann")
	if err != nil {
		t.Fatal(err)
	}
	bogus := tok
	bogus.Secret = strings.Repeat("0", 40)
	for _, bad := range []wire.EnrollToken{bogus, {ID: "deadbeef", Secret: tok.Secret}} {
		if _, err := reg.Enroll(enroll.Request{Token: bad, MachineID: machine, Hostname: "pc"}, agentKeys{c.ov}); !errors.Is(err, enroll.ErrBadToken) {
			t.Fatalf("bogus token: %v, want ErrBadToken", err)
		}
	}
	if after := stored(); !slices.Equal(before, after) {
		t.Fatalf("bogus tokens changed the pre-auth keys: %v → %v", before, after)
	}
	enr, err := reg.Enroll(enroll.Request{Token: tok, MachineID: machine, Hostname: "pc"}, agentKeys{c.ov})
	if err != nil {
		t.Fatal(err)
	}
	if after := stored(); !slices.Equal(append(before, enr.Device.NodeKeyID), after) {
		t.Fatalf("a good token: keys %v → %v, want one more (%d)", before, after, enr.Device.NodeKeyID)
	}
	if _, err := reg.Enroll(enroll.Request{Token: tok, MachineID: machine, Hostname: "pc"}, agentKeys{c.ov}); !errors.Is(err, enroll.ErrTokenUsed) {
		t.Fatalf("the used token again: %v", err)
	}
	if after := stored(); len(after) != len(before)+1 {
		t.Fatalf("a used token minted a key: %v", after)
	}
}

// TestL1PruneAuthKeys: expired keys no node joined with are deleted; a
// key a node joined with, and a key still valid, stay.
func TestL1PruneAuthKeys(t *testing.T) {
	clock := tstest.NewClock(tstest.ClockOpts{Start: time.Now()})
	c := startCoordinator(t, func(cfg *overlay.Config) { cfg.Now = clock.Now; cfg.KeyPruneInterval = time.Hour })
	mint := func(ttl time.Duration) overlay.AuthKey {
		t.Helper()
		k, err := c.ov.CreateAuthKey(overlay.KeyOptions{Tags: []string{wire.TagAgent}, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	joined, unused, long := mint(time.Hour), mint(time.Hour), mint(24*time.Hour)
	c.joinWith(t, "agent-1", joined)
	wait.For(t, "the node to be stored", func() bool { return len(c.ov.Nodes()) == 1 })

	if n, err := c.ov.PruneAuthKeys(); err != nil || n != 0 {
		t.Fatalf("before expiry: pruned %d, %v", n, err)
	}
	clock.Advance(2 * time.Hour)
	if n, err := c.ov.PruneAuthKeys(); err != nil || n != 1 {
		t.Fatalf("after expiry: pruned %d, %v; want 1", n, err)
	}
	keys, err := c.ov.AuthKeys()
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	if want := []uint64{joined.ID, long.ID}; !slices.Equal(ids, want) {
		t.Fatalf("keys left %v, want %v (unused expired key %d pruned)", ids, want, unused.ID)
	}
}
