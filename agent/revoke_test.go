package agent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/revoke"
	"github.com/peerdesk/peerdesk/agent/state"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

// The agent's presence loop hands what the coordinator sends down the
// stream to its revoker: a revoke message puts the technician on the
// deny list (agent/screen's TestM5RevokeEndsLiveScreenSession shows the
// sessions ending).
func TestPresenceRevokeReachesRevoker(t *testing.T) {
	leak.Check(t)
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	line, err := wire.EncodePresenceMessage(wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: "bob", Reason: "disabled", At: at})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathPresence {
			http.NotFound(w, r)
			return
		}
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex() //nolint:errcheck // HTTP/1.1 here
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("{\"type\":\"later\"}\n")) //nolint:errcheck // the test reads the result from the list
		w.Write(line)                             //nolint:errcheck // likewise
		rc.Flush()                                //nolint:errcheck // likewise
		io.Copy(io.Discard, r.Body)               //nolint:errcheck // until the agent goes
	}))
	srv.StartTLS()
	defer srv.Close()

	list := revoke.NewList(nil, 0)
	a := &Agent{
		cfg:     Config{StateDir: t.TempDir(), Now: time.Now},
		log:     slog.New(slog.DiscardHandler),
		coord:   coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice("dev-1", "secret"),
		st:      &state.State{},
		revoker: revoke.New(revoke.Config{List: list}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.presence(ctx) })
	wait.For(t, "bob to be on the deny list", func() bool { return list.Revoked("bob", "", at) })
	if list.Revoked("alice", "", at) || list.Revoked("bob", "", at.Add(time.Second)) {
		t.Fatal("the deny list holds more than bob's older grants")
	}
}
