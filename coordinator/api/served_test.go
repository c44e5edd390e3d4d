package api

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestAgentProtocolStoredAndListed: what an agent says it serves (protocol
// and capabilities) at enroll, in an inventory report and in a heartbeat is
// stored per device and comes back in the device list and in a grant; an
// agent of protocol 1 (no claim) lists as the zero value; a bad claim is
// refused and leaves the stored one alone.
func TestAgentProtocolStoredAndListed(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	enrollAs := func(host string, machine byte, agent wire.Served) enrolled {
		t.Helper()
		w := e.do(e.pub, "POST", wire.PathEnroll, "", mustJSON(t, wire.EnrollRequest{
			Token: e.token(t), MachineID: machineID(machine), Hostname: host, OS: "linux", Agent: agent,
		}))
		if w.Code != http.StatusOK {
			t.Fatalf("enroll %s: %d %s", host, w.Code, w.Body)
		}
		var d enrolled
		decodeJSON(t, w, &d.EnrollResponse)
		d.auth = "Device " + d.DeviceID + ":" + d.DeviceSecret
		d.keyID = uint64(len(e.overlay.keyOptions()))
		return d
	}
	v2 := wire.Served{Protocol: 2, Capabilities: []wire.Capability{wire.CapSysInfo, wire.CapScreen, wire.CapFiles}}
	pc7 := enrollAs("pc-7", 'a', v2)
	old := e.enroll(t, "pc-old", 'b') // an agent of protocol 1 says nothing
	tech := e.session(t, "bob", policy.RoleTechnician)

	listed := func() map[string]wire.Served {
		t.Helper()
		w := e.do(e.pub, "GET", wire.PathDevices, tech, "")
		if w.Code != http.StatusOK {
			t.Fatalf("devices = %d %s", w.Code, w.Body)
		}
		var out []wire.Device
		decodeJSON(t, w, &out)
		m := map[string]wire.Served{}
		for _, d := range out {
			m[d.Hostname] = d.Agent
		}
		return m
	}
	sorted := wire.Served{Protocol: 2, Capabilities: []wire.Capability{wire.CapFiles, wire.CapScreen, wire.CapSysInfo}}
	if diff := cmp.Diff(map[string]wire.Served{"pc-7": sorted, "pc-old": {}}, listed()); diff != "" {
		t.Fatalf("after enrollment (-want +got):\n%s", diff)
	}

	// A heartbeat says the agent now serves a shell too.
	withShell := wire.Served{Protocol: 2, Capabilities: append(sorted.Capabilities, wire.CapShell)}
	if w := e.do(e.pub, "POST", wire.PathHeartbeat, pc7.auth, mustJSON(t, wire.Heartbeat{AgentVersion: "1.1", Agent: withShell})); w.Code != http.StatusNoContent {
		t.Fatalf("heartbeat = %d %s", w.Code, w.Body)
	}
	// An old agent's heartbeat, without the field, is as welcome as ever.
	if w := e.do(e.pub, "POST", wire.PathHeartbeat, old.auth, `{"agent_version":"1.0","uptime":"1h","sent":"2026-11-21T12:00:10Z"}`); w.Code != http.StatusNoContent {
		t.Fatalf("protocol 1 heartbeat = %d %s", w.Code, w.Body)
	}
	want := map[string]wire.Served{"pc-7": withShell.Normalized(), "pc-old": {}}
	if diff := cmp.Diff(want, listed()); diff != "" {
		t.Fatalf("after heartbeats (-want +got):\n%s", diff)
	}

	// The old machine's agent is updated: its inventory report says so.
	updated := wire.Served{Protocol: 2, Capabilities: []wire.Capability{wire.CapSysInfo}}
	if w := e.do(e.pub, "POST", wire.PathInventory, old.auth, mustJSON(t, wire.Inventory{Hostname: "pc-old", OS: "linux", Agent: updated})); w.Code != http.StatusNoContent {
		t.Fatalf("inventory = %d %s", w.Code, w.Body)
	}
	want["pc-old"] = updated
	if diff := cmp.Diff(want, listed()); diff != "" {
		t.Fatalf("after an inventory report (-want +got):\n%s", diff)
	}

	// Bad claims are refused and change nothing.
	for _, bad := range []wire.Served{
		{Protocol: -1},
		{Protocol: 2, Capabilities: []wire.Capability{"files\n"}},
		{Protocol: 2, Capabilities: []wire.Capability{wire.CapFiles, wire.CapFiles}},
	} {
		wantError(t, e.do(e.pub, "POST", wire.PathHeartbeat, pc7.auth, mustJSON(t, wire.Heartbeat{Agent: bad})), http.StatusBadRequest, wire.CodeBadRequest)
		wantError(t, e.do(e.pub, "POST", wire.PathInventory, pc7.auth, mustJSON(t, wire.Inventory{Hostname: "pc-7", Agent: bad})), http.StatusBadRequest, wire.CodeBadRequest)
		wantError(t, e.do(e.pub, "POST", wire.PathEnroll, "", mustJSON(t, wire.EnrollRequest{
			Token: e.token(t), MachineID: machineID('z'), Hostname: "pc-bad", OS: "linux", Agent: bad,
		})), http.StatusBadRequest, wire.CodeBadRequest)
	}
	if diff := cmp.Diff(want, listed()); diff != "" {
		t.Fatalf("after refused claims (-want +got):\n%s", diff)
	}

	// A grant tells the viewer the device's name and what its agent
	// serves, so it can refuse to call what is not there.
	const techKey = "nodekey:a1"
	if err := e.accounts.RecordOverlayKey(100, "bob"); err != nil {
		t.Fatal(err)
	}
	e.overlay.setNodes(
		overlay.Node{ID: 1, NodeKey: techKey, Tags: []string{wire.TagTech}, AuthKeyID: 100, IPv4: netip.MustParseAddr("100.64.0.2")},
		overlay.Node{ID: 2, NodeKey: "nodekey:b1", Tags: []string{wire.TagAgent}, AuthKeyID: pc7.keyID, IPv4: netip.MustParseAddr("100.64.0.7")},
	)
	w := e.do(e.pub, "POST", wire.PathGrant, tech, mustJSON(t, wire.GrantRequest{DeviceID: pc7.DeviceID, NodeKey: techKey, Capabilities: []wire.Capability{wire.CapSysInfo}}))
	if w.Code != http.StatusOK {
		t.Fatalf("grant = %d %s", w.Code, w.Body)
	}
	var g wire.GrantResponse
	decodeJSON(t, w, &g)
	if g.Hostname != "pc-7" || !g.Agent.Equal(withShell) {
		t.Errorf("grant says host %q, agent %+v; want pc-7, %+v", g.Hostname, g.Agent, withShell)
	}
}

// TestOneTimeAgentProtocol: a one-time agent's claim at its join is kept
// with its session and shown on the board; a bad claim is refused.
func TestOneTimeAgentProtocol(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	bob := e.session(t, "bob", policy.RoleTechnician)
	code := func() string {
		t.Helper()
		w := e.do(e.pub, "POST", wire.PathSupportCodes, bob, `{}`)
		var c wire.SupportCode
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &c) != nil {
			t.Fatalf("code: %d %s", w.Code, w.Body)
		}
		return c.Code
	}
	claim := wire.Served{Protocol: 2, Capabilities: []wire.Capability{wire.CapSysInfo, wire.CapScreen, wire.CapFiles}}
	bad := code()
	wantError(t, e.do(e.pub, "POST", wire.PathSupportJoin, "", mustJSON(t, wire.JoinRequest{Code: bad, Hostname: "pc-9", OS: "windows",
		Agent: wire.Served{Protocol: 2, Capabilities: []wire.Capability{"<script>"}}})), http.StatusBadRequest, wire.CodeBadRequest)
	if w := e.do(e.pub, "POST", wire.PathSupportJoin, "", mustJSON(t, wire.JoinRequest{Code: code(), Hostname: "pc-9", OS: "windows", Agent: claim})); w.Code != http.StatusOK {
		t.Fatalf("join: %d %s", w.Code, w.Body)
	}
	w := e.do(e.pub, "GET", wire.PathSupportSessions, bob, "")
	var b wire.SupportBoard
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &b) != nil || len(b.Sessions) != 1 {
		t.Fatalf("board: %d %s", w.Code, w.Body)
	}
	if diff := cmp.Diff(claim.Normalized(), b.Sessions[0].Agent); diff != "" {
		t.Errorf("the session's agent (-want +got):\n%s", diff)
	}
}
