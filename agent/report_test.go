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
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

// TestNoHeartbeatWhileStreaming: while the presence stream is up the agent
// sends no heartbeat requests (each would hold a second connection to the
// coordinator for every agent of a fleet); when the coordinator refuses the
// stream, heartbeats resume.
func TestNoHeartbeatWhileStreaming(t *testing.T) {
	leak.Check(t)
	var (
		refuse      atomic.Bool
		heartbeats  atomic.Int32
		inventories atomic.Int32
		mu          sync.Mutex
		streams     []context.CancelFunc // the coordinator's end of each open stream
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case wire.PathHeartbeat:
			heartbeats.Add(1)
			w.WriteHeader(http.StatusNoContent)
		case wire.PathInventory:
			inventories.Add(1)
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
	wait.For(t, "the presence stream to be up", a.streaming.Load)
	wg.Go(func() { a.report(ctx) })
	// The report loop runs (its first inventory is in), and sends no
	// heartbeat for a hundred heartbeat periods with the stream up.
	wait.For(t, "the first inventory report", func() bool { return inventories.Load() > 0 })
	wait.Holds(t, 100*a.cfg.HeartbeatEvery, "no heartbeat while the presence stream is up", func() bool {
		return heartbeats.Load() == 0
	})

	// The coordinator ends the stream and refuses new ones.
	refuse.Store(true)
	mu.Lock()
	for _, end := range streams {
		end()
	}
	mu.Unlock()
	wait.For(t, "heartbeats after the presence stream was refused", func() bool { return heartbeats.Load() >= 2 })
	if a.streaming.Load() {
		t.Fatal("the agent thinks its refused stream is up")
	}
}
