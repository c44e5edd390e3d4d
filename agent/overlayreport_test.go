package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

// The one-time agent's reports of why its overlay is down reach the
// coordinator over HTTPS, with its device credentials.
func TestOverlayReporter(t *testing.T) {
	leak.Check(t)
	got := make(chan wire.OverlayReport, 8)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathSupportOverlay || r.Header.Get("Authorization") != "Device sup-1:s3cret" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		var rep wire.OverlayReport
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- rep
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	dev := coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice("sup-1", "s3cret")
	r := startOverlayReporter(context.Background(), dev.ReportOverlay, slog.New(slog.DiscardHandler))
	defer r.Close()
	r.Send(wire.OverlayNoNetwork)
	if rep := wait.Recv(t, "the first report", got); rep.Reason != wire.OverlayNoNetwork {
		t.Fatalf("reported %q", rep.Reason)
	}
	r.Send("")
	if rep := wait.Recv(t, "the all-clear", got); rep.Reason != "" {
		t.Fatalf("reported %q, want the all-clear", rep.Reason)
	}
}
