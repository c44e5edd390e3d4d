package coordclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

// TestI1LoginSecondFactor: a login answered with a second factor carries
// only the pending token; SecondFactor sends it with the code to its own
// path and gets the session.
func TestI1LoginSecondFactor(t *testing.T) {
	leak.Check(t)
	coord := newCoordinator(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case wire.PathLogin:
			json.NewEncoder(w).Encode(wire.LoginResponse{SecondFactor: true, Pending: "p3nd"}) //nolint:errcheck // test server
		case wire.PathLoginSecondFactor:
			json.NewEncoder(w).Encode(wire.LoginResponse{Session: "s3ss", AuthKey: "k", Username: "carol"}) //nolint:errcheck // test server
		}
	})
	c := coordclient.New(coord.url, coord.id.CA)
	ctx := context.Background()
	first, err := c.Login(ctx, "carol", "pw")
	if err != nil || !first.SecondFactor || first.Pending != "p3nd" || first.Session != "" {
		t.Fatalf("first answer %+v, %v", first, err)
	}
	done, err := c.SecondFactor(ctx, first.Pending, "123456")
	if err != nil || done.Session != "s3ss" {
		t.Fatalf("second answer %+v, %v", done, err)
	}
	got := coord.seen()
	if len(got) != 2 || got[1].Path != wire.PathLoginSecondFactor || got[1].Body != `{"pending":"p3nd","code":"123456"}` {
		t.Errorf("requests %+v", got)
	}
}
