package desk_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Issue 12: an agent whose overlay cannot come up says why over HTTPS,
// and the session row says it; a session whose agent was never seen on
// the overlay says that, with Connect greyed, not live.
func TestOverlayReportOnSessionRow(t *testing.T) {
	leak.Check(t)
	w := newWorld(t)
	j, err := w.d.Join("198.51.100.9", wire.JoinRequest{Code: w.teamCode(t, true), Hostname: "offline-pc", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	admin := desk.Caller{User: "boss", Role: policy.RoleAdmin}
	row := func() wire.SupportSession {
		t.Helper()
		b, err := w.d.Board(admin)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range b.Sessions {
			if s.ID == j.Session {
				return s
			}
		}
		t.Fatalf("session %s not on the board", j.Session)
		return wire.SupportSession{}
	}
	if got := row(); got.Overlay != "" || got.OverlayIP != "" {
		t.Fatalf("before any report: overlay %q, IP %q", got.Overlay, got.OverlayIP)
	}

	// The dashboard's row says the machine was never seen, with no live Connect.
	tok, _ := w.caller(t, policy.RoleTechnician)
	status, page := w.send(t, "web", w.web, tok, cell{method: "GET", path: "/support/desk"})
	if status != http.StatusOK {
		t.Fatalf("GET /support/desk: %d", status)
	}
	i := strings.Index(page, `id="session-`+j.Session+`"`)
	if i < 0 {
		t.Fatalf("no row for the session:\n%s", page)
	}
	tr := page[i:]
	tr = tr[:strings.Index(tr, "</tr>")]
	if !strings.Contains(tr, "has not been seen there yet") {
		t.Errorf("the row does not say the agent was never seen on the overlay:\n%s", tr)
	}
	if strings.Contains(tr, `class="button primary"`) || !strings.Contains(tr, `class="button primary waiting" aria-disabled="true"`) {
		t.Errorf("the row has a live-looking Connect:\n%s", tr)
	}

	// Wrong credentials, or an unknown reason, are refused and change nothing.
	if err := w.d.ReportOverlay("198.51.100.9", j.DeviceID, "wrong", wire.OverlayReport{Reason: wire.OverlayNoNetwork}); desk.KindOf(err) != desk.Unauthenticated {
		t.Fatal("a report with a wrong secret was accepted")
	}
	if err := w.d.ReportOverlay("198.51.100.9", j.DeviceID, j.DeviceSecret, wire.OverlayReport{Reason: "<b>bold</b>"}); err == nil {
		t.Fatal("an unknown reason was accepted")
	}
	if got := row().Overlay; got != "" {
		t.Fatalf("refused reports changed the row: %q", got)
	}

	for _, reason := range []string{wire.OverlayNoNetwork, wire.OverlayClockSkew, ""} {
		if err := w.d.ReportOverlay("198.51.100.9", j.DeviceID, j.DeviceSecret, wire.OverlayReport{Reason: reason}); err != nil {
			t.Fatal(err)
		}
		if got := row().Overlay; got != reason {
			t.Fatalf("after reporting %q the row says %q", reason, got)
		}
	}
}
