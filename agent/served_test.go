package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/agent/inventory"
	"github.com/peerdesk/peerdesk/agent/state"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

// TestReportsSayWhatTheAgentServes: the inventory report and every
// heartbeat carry the agent's protocol version and the capabilities its
// peer server answers, as the coordinator decodes them.
func TestReportsSayWhatTheAgentServes(t *testing.T) {
	leak.Check(t)
	var (
		mu          sync.Mutex
		heartbeats  []wire.Heartbeat
		inventories []wire.Inventory
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields() // as the coordinator decodes
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case wire.PathHeartbeat:
			var hb wire.Heartbeat
			if err := dec.Decode(&hb); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			heartbeats = append(heartbeats, hb)
		case wire.PathInventory:
			var inv wire.Inventory
			if err := dec.Decode(&inv); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			inventories = append(inventories, inv)
		default:
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.StartTLS()
	defer srv.Close()

	a := &Agent{
		cfg:   Config{HeartbeatEvery: 5 * time.Millisecond, InventoryEvery: time.Hour, StateDir: t.TempDir(), Now: time.Now},
		log:   slog.New(slog.DiscardHandler),
		coord: coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice("dev-1", "secret"),
		inv:   inventory.New(inventory.Options{AgentVersion: "1.0.0"}),
		st:    &state.State{},
	}
	want := servedBy([]wire.Capability{wire.CapSysInfo, wire.CapFiles, wire.CapScreen})
	a.setServed(want)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.report(ctx) })
	wait.For(t, "an inventory report and two heartbeats", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(inventories) > 0 && len(heartbeats) >= 2
	})
	cancel()
	wg.Wait()
	// What the handler decoded is read under its lock: a heartbeat sent
	// just before the cancel may still be on its way in (the race run
	// caught the test reading one the handler was appending).
	mu.Lock()
	invs, hbs := slices.Clone(inventories), slices.Clone(heartbeats)
	mu.Unlock()
	if want.Protocol != 2 || !slices.IsSorted(want.Capabilities) {
		t.Fatalf("servedBy gave %+v", want)
	}
	if diff := cmp.Diff(want, invs[0].Agent); diff != "" {
		t.Errorf("inventory report's agent (-want +got):\n%s", diff)
	}
	for i, hb := range hbs {
		if diff := cmp.Diff(want, hb.Agent); diff != "" {
			t.Errorf("heartbeat %d's agent (-want +got):\n%s", i, diff)
		}
	}
}

// TestEnrollAndJoinClaims: what an agent says at enroll and join is
// protocol 2 with the rows its table serves by default, a valid claim.
func TestEnrollAndJoinClaims(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		got  wire.Served
		want []wire.Capability
	}{
		"installed": {installedServed(), append([]wire.Capability{wire.CapSysInfo, wire.CapPower, wire.CapWake, wire.CapScreen}, backstageNames...)},
		"one-time":  {oneTimeServed(), append([]wire.Capability{wire.CapScreen, wire.CapSysInfo}, backstageNames...)},
	} {
		if err := tc.got.Check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if tc.got.Protocol != wire.ProtocolVersion {
			t.Errorf("%s: protocol %d, want %d", name, tc.got.Protocol, wire.ProtocolVersion)
		}
		slices.Sort(tc.want)
		if diff := cmp.Diff(tc.want, tc.got.Capabilities); diff != "" {
			t.Errorf("%s: capabilities (-want +got):\n%s", name, diff)
		}
	}
}

// TestBackstageNames: the names agents claim before their table is built
// are the names of the rows backstage builds.
func TestBackstageNames(t *testing.T) {
	rows := backstage(backstageConfig{Logger: slog.New(slog.DiscardHandler), Audit: nopRecorder{}, Device: "dev-1", FilesRoot: t.TempDir(), Now: time.Now})
	defer func() {
		for _, r := range rows {
			if r.Close != nil {
				r.Close() //nolint:errcheck // nothing was started
			}
		}
	}()
	got, want := rowNames(rows), slices.Clone(backstageNames)
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("backstageNames (-want +got):\n%s", diff)
	}
}

type nopRecorder struct{}

func (nopRecorder) Record(wire.AuditEvent) error { return nil }
