package wol

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// TestWindowsRelaySendsUDP: a Windows relay, on the machine's own network
// (systemLAN), sends the magic packet for a sleeping machine as a UDP
// broadcast to port 9 of its LAN, and only so: raw Ethernet frames need
// AF_PACKET, which Windows does not have. The e2e test
// TestWindowsWakeRelay runs it under Wine: it gives the namespace the LAN,
// names its subnet in PEERDESK_WOL_TEST_SUBNET and checks that the packet
// arrives there. Without that variable it is skipped.
func TestWindowsRelaySendsUDP(t *testing.T) {
	subnet := os.Getenv("PEERDESK_WOL_TEST_SUBNET")
	if subnet == "" {
		t.Skip("PEERDESK_WOL_TEST_SUBNET names no LAN to wake a machine on (e2e TestWindowsWakeRelay sets it)")
	}
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"mac":"02:00:00:00:00:42","subnet":%q}`, subnet)
	r := httptest.NewRequest(http.MethodPost, wire.PeerPathWake, strings.NewReader(body))
	w := httptest.NewRecorder()
	Handler{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}.ServePeer(w, r, gate.Caller{Technician: "alice"})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	var res wire.WakeResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatalf("result %q: %v", w.Body, err)
	}
	t.Logf("sent: %v", res.Sent)
	want := fmt.Sprintf("udp %s:%d via ", broadcast(p), Port)
	if len(res.Sent) != 1 || !strings.HasPrefix(res.Sent[0], want) {
		t.Errorf("sent %q, want one UDP broadcast (%q…)", res.Sent, want)
	}
}
