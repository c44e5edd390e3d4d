package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestOverlayReport: a one-time agent's report of why its overlay node is
// not up reaches the technician's board over the JSON API, under its own
// device credentials only, with a reason from the fixed list only; an
// empty report (it is up) clears it.
func TestOverlayReport(t *testing.T) {
	leak.Check(t)
	e := newEnv(t)
	bob := e.session(t, "bob", policy.RoleTechnician)
	w := e.do(e.pub, "POST", wire.PathSupportCodes, bob, `{}`)
	var code wire.SupportCode
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &code) != nil {
		t.Fatalf("code: %d %s", w.Code, w.Body)
	}
	agent := joinSupport(t, e.pub, "192.0.2.50:4000", code.Code)
	overlay := func() string {
		t.Helper()
		w := e.do(e.pub, "GET", wire.PathSupportSessions, bob, "")
		var b wire.SupportBoard
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &b) != nil || len(b.Sessions) != 1 {
			t.Fatalf("board: %d %s", w.Code, w.Body)
		}
		return b.Sessions[0].Overlay
	}

	wantError(t, e.do(e.pub, "POST", wire.PathSupportOverlay, "", `{"reason":"no-network"}`), http.StatusUnauthorized, wire.CodeUnauthorized)
	wantError(t, e.do(e.pub, "POST", wire.PathSupportOverlay, agent+"x", `{"reason":"no-network"}`), http.StatusUnauthorized, wire.CodeUnauthorized)
	wantError(t, e.do(e.pub, "POST", wire.PathSupportOverlay, agent, `{"reason":"made-up"}`), http.StatusBadRequest, wire.CodeBadRequest)
	if got := overlay(); got != "" {
		t.Fatalf("a refused report reached the board: %q", got)
	}
	if w := e.do(e.pub, "POST", wire.PathSupportOverlay, agent, `{"reason":"no-network"}`); w.Code != http.StatusNoContent {
		t.Fatalf("report: %d %s", w.Code, w.Body)
	}
	if got := overlay(); got != wire.OverlayNoNetwork {
		t.Fatalf("board says %q, want %q", got, wire.OverlayNoNetwork)
	}
	if w := e.do(e.pub, "POST", wire.PathSupportOverlay, agent, `{}`); w.Code != http.StatusNoContent {
		t.Fatalf("all-clear: %d %s", w.Code, w.Body)
	}
	if got := overlay(); got != "" {
		t.Fatalf("after the all-clear the board says %q", got)
	}
}
