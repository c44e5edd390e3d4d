package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestWake: the coordinator plans a wake-up through an online agent on the
// sleeping machine's LAN — never through one at another site that uses the
// same subnet — and grants the technician's node that relay's wol
// capability, and nothing else.
func TestWake(t *testing.T) {
	leak.Check(t)
	const techKey = "nodekey:a1"
	e := newEnv(t)
	lan := func(ip, mac, gwMAC string) wire.Inventory {
		return wire.Inventory{Hostname: "x", Gateway: "192.168.1.1", GatewayMAC: gwMAC,
			Interfaces: []wire.NetIf{{Name: "eth0", MAC: mac, Addrs: []string{ip + "/24"}}}}
	}
	sleeper, relay, elsewhere := e.enroll(t, "sleeper", 'a'), e.enroll(t, "relay", 'b'), e.enroll(t, "elsewhere", 'c')
	for _, d := range []struct {
		enrolled
		inv wire.Inventory
	}{
		{sleeper, lan("192.168.1.20", "52:54:00:00:00:20", "02:00:00:00:00:01")},
		{relay, lan("192.168.1.30", "52:54:00:00:00:30", "02:00:00:00:00:01")},
		{elsewhere, lan("192.168.1.40", "52:54:00:00:00:40", "02:00:00:00:00:99")}, // the same subnet at another site
	} {
		if w := e.do(e.pub, "POST", wire.PathInventory, d.auth, mustJSON(t, d.inv)); w.Code != http.StatusNoContent {
			t.Fatalf("inventory = %d %s", w.Code, w.Body)
		}
	}
	// The other site's agent was seen last, so "most recent" would pick it.
	e.presence.Seen(relay.DeviceID)
	e.clock.Advance(1)
	e.presence.Seen(elsewhere.DeviceID)
	e.presence.Gone(sleeper.DeviceID)
	if err := e.accounts.RecordOverlayKey(100, "bob"); err != nil {
		t.Fatal(err)
	}
	nodes := []overlay.Node{{ID: 1, NodeKey: techKey, Tags: []string{wire.TagTech}, AuthKeyID: 100, IPv4: netip.MustParseAddr("100.64.0.2")}}
	for i, d := range []enrolled{sleeper, relay, elsewhere} {
		nodes = append(nodes, overlay.Node{ID: uint64(i + 2), NodeKey: fmt.Sprintf("nodekey:b%d", i), Tags: []string{wire.TagAgent},
			AuthKeyID: d.keyID, IPv4: netip.AddrFrom4([4]byte{100, 64, 0, byte(10 + i)})})
	}
	e.overlay.setNodes(nodes...)

	bob := e.session(t, "bob", policy.RoleTechnician)
	ask := func(auth, device string) *httptest.ResponseRecorder {
		return e.do(e.pub, "POST", wire.PathWake, auth, mustJSON(t, wire.WakeAsk{DeviceID: device, NodeKey: techKey}))
	}
	w := ask(bob, sleeper.DeviceID)
	if w.Code != http.StatusOK {
		t.Fatalf("wake = %d %s", w.Code, w.Body)
	}
	var plan wire.WakePlan
	decodeJSON(t, w, &plan)
	if plan.Relay != relay.DeviceID || plan.Grant.OverlayIP != "100.64.0.11" {
		t.Fatalf("relay = %s at %s, want %s (same LAN, not the other site's %s)", plan.Relay, plan.Grant.OverlayIP, relay.DeviceID, elsewhere.DeviceID)
	}
	if plan.Request != (wire.WakeRequest{MAC: "52:54:00:00:00:20", Subnet: "192.168.1.0/24"}) {
		t.Errorf("request = %+v", plan.Request)
	}
	g, err := grant.Verify(e.grantKey, plan.Grant.Grant, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Check(relay.DeviceID, techKey, wire.CapWake); err != nil {
		t.Error(err)
	}
	if g.Check(relay.DeviceID, techKey, wire.CapScreen) == nil || len(g.Capabilities) != 1 {
		t.Errorf("the wake grant carries %v", g.Capabilities)
	}
	if ok := e.records(t, "device.wake", audit.OK); len(ok) != 1 || ok[0].Fields["relay"] != relay.DeviceID {
		t.Errorf("wake audited as %+v", ok)
	}

	// Refusals, each audited.
	wantError(t, ask(e.session(t, "vic", policy.RoleViewer), sleeper.DeviceID), http.StatusForbidden, wire.CodeForbidden)
	wantError(t, ask(bob, relay.DeviceID), http.StatusConflict, wire.CodeConflict) // online already
	wantError(t, ask(bob, "dev-ffffffffffffffff"), http.StatusNotFound, wire.CodeNotFound)
	e.presence.Gone(relay.DeviceID)
	wantError(t, ask(bob, sleeper.DeviceID), http.StatusConflict, wire.CodeConflict) // no relay left on its LAN
	if n := len(e.records(t, "device.wake", audit.Denied)); n != 4 {
		t.Errorf("%d refusals audited, want 4", n)
	}
}
