package agent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/inventory"
	"github.com/peerdesk/peerdesk/agent/state"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/wire"
)

// TestNoHeartbeatWhileStreaming: while the presence stream is up the agent
// sends no heartbeat requests (each would hold a second connection to the
// coordinator for every agent of a fleet); when the coordinator refuses the
// stream, heartbeats resume.
func TestNoHeartbeatWhileStreaming(t *testing.T) {
	var (
		refuse     atomic.Bool
		heartbeats atomic.Int32
		mu         sync.Mutex
		streams    []context.CancelFunc // the coordinator's end of each open stream
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case wire.PathHeartbeat:
			heartbeats.Add(1)
			w.WriteHeader(http.StatusNoContent)
		case wire.PathInventory:
			w.WriteHeader(http.StatusNoContent)
		case wire.PathPresence:
			if refuse.Load() {
				http.Error(w, "no streams here", http.StatusServiceUnavailable)
				return
			}
			ctx, cancel := context.WithCancel(r.Context())
			mu.Lock()
			streams = append(streams, cancel)
			mu.Unlock()
			rc := http.NewResponseController(w)
			rc.EnableFullDuplex() //nolint:errcheck // HTTP/1.1 here
			w.WriteHeader(http.StatusOK)
			rc.Flush() //nolint:errcheck // the client sees the stream up
			go io.Copy(io.Discard, r.Body)
			<-ctx.Done()
		default:
			http.NotFound(w, r)
		}
	}))
	srv.StartTLS()
	defer srv.Close()

	a := &Agent{
		cfg: Config{HeartbeatEvery: 5 * time.Millisecond, InventoryEvery: time.Hour, StateDir: t.TempDir(), Now: time.Now},
		log: slog.New(slog.DiscardHandler),
		// The state directory holds no state: the reconfigure check finds
		// nothing to report.
		coord: coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice("dev-1", "secret"),
		inv:   inventory.New(inventory.Options{AgentVersion: "1.0.0"}),
		st:    &state.State{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.presence(ctx) })
	for !a.streaming.Load() {
		time.Sleep(time.Millisecond)
	}
	wg.Go(func() { a.report(ctx) })
	// A hundred heartbeat periods with the stream up.
	time.Sleep(100 * a.cfg.HeartbeatEvery)
	if n := heartbeats.Load(); n != 0 {
		t.Fatalf("%d heartbeats sent while the presence stream was up", n)
	}

	// The coordinator ends the stream and refuses new ones.
	refuse.Store(true)
	mu.Lock()
	for _, end := range streams {
		end()
	}
	mu.Unlock()
	for deadline := time.Now().Add(20 * time.Second); heartbeats.Load() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no heartbeats after the presence stream was refused")
		}
	}
	if a.streaming.Load() {
		t.Fatal("the agent thinks its refused stream is up")
	}
}
