package viewer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

// TestAgentWithoutTheRoute: an agent whose peer server has no route for a
// capability (it predates it) answers 404 with no wire.Error; the viewer
// says so in words the technician can act on, rather than "404 Not Found".
// A 404 of the capability's own (a wire.Error: a missing file) stays what
// it is, and an answer is decoded as ever.
func TestAgentWithoutTheRoute(t *testing.T) {
	leak.Check(t)
	mux := http.NewServeMux() // as agent/peer's server: unknown routes get ServeMux's 404
	mux.HandleFunc("GET "+wire.PeerPathSysInfo, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(wire.HeaderGrant) != "the-grant" {
			http.Error(w, "no grant", http.StatusForbidden)
			return
		}
		w.Write([]byte(`{"hostname":"pc-7"}`))
	})
	mux.HandleFunc("GET /v1/files/missing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"code":"not_found","message":"no such file"}`))
	})
	agent := httptest.NewServer(mux)
	defer agent.Close()
	hc := agent.Client()
	defer hc.CloseIdleConnections()
	ctx := context.Background()
	v1 := wire.GrantResponse{Grant: "the-grant", Hostname: "pc-7"} // an agent of protocol 1
	v2 := wire.GrantResponse{Grant: "the-grant", Hostname: "pc-7", Agent: wire.Served{Protocol: 2, Capabilities: []wire.Capability{wire.CapFiles}}}

	err := callAgent(ctx, hc, agent.URL, http.MethodGet, v1, wire.CapFiles, "/v1/files/list", nil, nil)
	const want = "pc-7 runs peerdesk agent protocol 1, which has no file transfer; update the agent"
	var ns *NotServedError
	if !errors.As(err, &ns) || !errors.Is(err, ErrNotServed) || err.Error() != want {
		t.Fatalf("a 404 without a wire.Error: %v (%T), want %q", err, err, want)
	}
	if ns.Capability != wire.CapFiles || ns.Protocol != 1 {
		t.Errorf("NotServedError = %+v", ns)
	}

	err = callAgent(ctx, hc, agent.URL, http.MethodGet, v2, wire.CapFiles, "/v1/files/missing", nil, nil)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeNotFound || we.Message != "no such file" || errors.Is(err, ErrNotServed) {
		t.Fatalf("the capability's own 404: %v (%T)", err, err)
	}

	// Without a capability named, a 404 is just a 404.
	err = callAgent(ctx, hc, agent.URL, http.MethodGet, v1, "", "/v1/elsewhere", nil, nil)
	if !errors.As(err, &we) || errors.Is(err, ErrNotServed) || we.Message != "404 Not Found" {
		t.Fatalf("a 404 for no capability: %v (%T)", err, err)
	}

	var inv wire.Inventory
	if err := callAgent(ctx, hc, agent.URL, http.MethodGet, v1, wire.CapSysInfo, wire.PeerPathSysInfo, nil, &inv); err != nil || inv.Hostname != "pc-7" {
		t.Fatalf("an answer: %+v, %v", inv, err)
	}
	err = callAgent(ctx, hc, agent.URL, http.MethodGet, wire.GrantResponse{Hostname: "pc-7"}, wire.CapSysInfo, wire.PeerPathSysInfo, nil, &inv)
	if !errors.As(err, &we) || we.Message != "403 Forbidden" {
		t.Fatalf("a refusal without a wire.Error: %v (%T)", err, err)
	}
}

// TestCheckServed: before calling, the viewer checks what the grant says
// the device's agent serves.
func TestCheckServed(t *testing.T) {
	t.Parallel()
	v1 := wire.GrantResponse{Hostname: "pc-7"}
	v2 := wire.GrantResponse{Hostname: "srv-1", Agent: wire.Served{Protocol: 2, Capabilities: []wire.Capability{wire.CapSysInfo, wire.CapFiles}}}
	for _, tc := range []struct {
		g    wire.GrantResponse
		caps []wire.Capability
		want string // "" for no error
	}{
		{v1, []wire.Capability{wire.CapSysInfo}, ""},
		{v1, []wire.Capability{wire.CapScreen, wire.CapInput}, ""},
		{v1, []wire.Capability{wire.CapFiles}, "pc-7 runs peerdesk agent protocol 1, which has no file transfer; update the agent"},
		{v1, []wire.Capability{wire.CapShell}, "pc-7 runs peerdesk agent protocol 1, which has no shell; update the agent"},
		{v2, []wire.Capability{wire.CapFiles}, ""},
		{v2, []wire.Capability{wire.CapScreen, wire.CapInput}, "srv-1's peerdesk agent runs without screen sharing"},
		{v2, []wire.Capability{wire.CapSysInfo, wire.CapProcesses}, "srv-1's peerdesk agent runs without process list"},
		{wire.GrantResponse{}, []wire.Capability{wire.CapLogs}, "this machine runs peerdesk agent protocol 1, which has no event logs; update the agent"},
	} {
		err := CheckServed(tc.g, tc.caps...)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("CheckServed(%+v, %v) = %q, want %q", tc.g.Agent, tc.caps, got, tc.want)
		}
	}
}
