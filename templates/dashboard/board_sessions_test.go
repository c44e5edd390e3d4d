package dashboard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Issue 12: a session row whose agent reported why its overlay is down
// says it, in words, with Connect greyed; one on the overlay has a live
// Connect.
func TestSessionRowOverlay(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		row  SessionRow
		want []string
		live bool
	}{
		{"on the overlay", SessionRow{ID: "s1", OverlayIP: "100.64.0.7", ConnectURL: "http://127.0.0.1:7071/session/s1"}, []string{"100.64.0.7"}, true},
		{"never seen", SessionRow{ID: "s2", ConnectURL: "http://127.0.0.1:7071/session/s2"}, []string{"has not been seen there yet"}, false},
		{"no network", SessionRow{ID: "s3", Overlay: wire.OverlayNoNetwork, ConnectURL: "x"}, []string{"agent offline: the machine has no working network connection"}, false},
		{"pin", SessionRow{ID: "s4", Overlay: wire.OverlayPinMismatch, ConnectURL: "x"}, []string{"agent offline: the coordinator&#39;s certificate does not match"}, false},
		{"clock", SessionRow{ID: "s5", Overlay: wire.OverlayClockSkew, ConnectURL: "x"}, []string{"agent offline: the machine&#39;s clock is wrong"}, false},
		{"unreachable", SessionRow{ID: "s6", Overlay: wire.OverlayUnreachable, ConnectURL: "x"}, []string{"agent offline: the machine cannot reach the coordinator"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.row.Created = at
			var b strings.Builder
			if err := sessionTable("mine", []SessionRow{tc.row}, "csrf", "none").Render(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			for _, w := range tc.want {
				if !strings.Contains(html, w) {
					t.Errorf("row lacks %q:\n%s", w, html)
				}
			}
			if live := strings.Contains(html, `<a class="button primary"`); live != tc.live {
				t.Errorf("live Connect = %v, want %v:\n%s", live, tc.live, html)
			}
			if !tc.live && !strings.Contains(html, `class="button primary waiting" aria-disabled="true"`) {
				t.Errorf("no greyed Connect:\n%s", html)
			}
		})
	}
}
