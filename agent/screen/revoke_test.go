//go:build cgo

package screen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/auditlog"
	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/revoke"
	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/api"
	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/transport/v4/vnet"
)

// M5 (the agent's side of revocation, issue 11 item 3): bob's live screen
// session — its grant issued before he was disabled — ends within 5 s of
// the coordinator's revoke going down the agent's presence stream (a real
// api.Presence over HTTPS, read by a real coordclient stream), while
// alice's session of another kind (a restart she was allowed, waiting for
// its reboot) stays. Bob's grant starts nothing more; a later revocation
// of bob leaves alice's own screen session alone. Each end is in the
// agent's audit trail with reason "revoked".
func TestM5RevokeEndsLiveScreenSession(t *testing.T) {
	leak.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The coordinator's side: presence streams on a real HTTPS server;
	// a device authenticates with any secret.
	presence := api.NewPresence(time.Minute, nil)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, ok := strings.Cut(strings.TrimPrefix(r.Header.Get("Authorization"), "Device "), ":")
		if r.URL.Path != wire.PathPresence || !ok {
			http.NotFound(w, r)
			return
		}
		presence.Serve(w, r, id)
	}))
	srv.StartTLS()
	t.Cleanup(func() {
		presence.Close() // the streams live on connections taken from the server
		srv.Close()
	})

	// The agent's side, wired as agent.Run wires it.
	trail, err := auditlog.Open(t.TempDir(), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trail.Close() })
	denied := revoke.NewList(nil, 0)
	svc := consent.New(consent.Config{
		Ask: policy.AttendedConsent, Device: "dev-1", Audit: trail,
		Refuse: func(h consent.Holder) bool { return denied.Revoked(h.Technician, h.NodeKey, h.Issued) },
	})
	u := &user{allow: true}
	userDone := make(chan struct{})
	go func() { defer close(userDone); u.run(ctx, svc) }()
	agentNet, techNet := limitedPath(t, 50_000_000)
	h := New(Config{
		Net: agentNet, Consent: svc, Coding: CodingScreen,
		OpenSource: func() (Source, error) { return newNoise(64, 48), nil },
		NewEncoder: func(w, hh, fps, bitrate int) (Encoder, error) {
			return h264.NewEncoder(h264.Options{Width: w, Height: hh, FPS: fps, Bitrate: bitrate})
		},
	})
	t.Cleanup(func() { h.Close(); cancel(); <-userDone })
	v := revoke.New(revoke.Config{List: denied, End: []revoke.Ender{svc, h}, Audit: trail, Device: "dev-1"})

	client := coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice("dev-1", "secret")
	up, streamDone := make(chan struct{}), make(chan error, 1)
	go func() {
		streamDone <- client.PresenceStream(ctx, coordclient.PresenceHandlers{
			Up: func() { close(up) }, Message: v.Handle,
			Invalid: func(err error) { t.Errorf("an invalid message: %v", err) },
		})
	}()
	t.Cleanup(func() { cancel(); <-streamDone }) // first: before the server goes
	wait.Recv(t, "the presence stream to be up", up)

	issued := time.Now().Add(-time.Minute) // both technicians' grants, from before the revocation
	alice, err := svc.Acquire(ctx, consent.Request{Technician: "alice", Capabilities: []wire.Capability{wire.CapPower}, Issued: issued})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := offerAs(t, h, techNet, "bob", issued); code != http.StatusOK {
		t.Fatalf("bob's session: %d %s", code, body)
	}
	if !h.Live() {
		t.Fatal("bob's session is not live")
	}

	if err := presence.Broadcast(wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: "bob", Reason: "disabled"}); err != nil {
		t.Fatal(err)
	}
	took := wait.Within(t, 5*time.Second, "bob's screen session to end", func() bool { return !h.Live() })
	t.Logf("bob's session ended %v after the revoke was sent", took)
	revoked := func(n int) func() bool {
		return func() bool { return len(records(t, trail, "revoke", "")) == n }
	}
	wait.For(t, "the revocation to be audited", revoked(1)) // written once every end was made
	if !alice.Allows(wire.CapPower) {
		t.Fatalf("alice's lease ended with bob's revocation: %q", alice.Reason())
	}
	if got := records(t, trail, "consent.end", "bob"); len(got) != 1 || got[0].Reason != revoke.Reason {
		t.Fatalf("bob's end in the audit trail: %+v", got)
	}

	// Bob's old grant starts nothing more.
	if code, body := offerAs(t, h, techNet, "bob", issued); code != http.StatusForbidden || !strings.Contains(body, "revoked") {
		t.Fatalf("bob's revoked grant: %d %s", code, body)
	}
	// Alice's screen session is not bob's: a later revocation of bob
	// leaves it running.
	alice.Release("")
	if code, body := offerAs(t, h, techNet, "alice", issued); code != http.StatusOK {
		t.Fatalf("alice's session: %d %s", code, body)
	}
	if err := presence.Broadcast(wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: "bob", Reason: "deleted"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the second revocation to be audited", revoked(2))
	if !h.Live() {
		t.Fatal("alice's session ended with bob's revocation")
	}
	if got := records(t, trail, "consent.end", "alice"); len(got) != 0 {
		t.Fatalf("alice's session was ended: %+v", got)
	}
}

// offerAs offers a screen session as technician, with a grant for screen
// issued at issued, from a fresh receiver that takes the answer.
func offerAs(t *testing.T, h *Handler, n *vnet.Net, technician string, issued time.Time) (int, string) {
	t.Helper()
	rx := newReceiver(t, n)
	body, _ := json.Marshal(wire.ScreenOffer{SDP: rx.offer(t)})
	rec := httptest.NewRecorder()
	key := "nodekey:" + strings.Repeat(technician[:1], 64)
	h.ServePeer(rec, httptest.NewRequest("POST", wire.PeerPathScreenOffer, strings.NewReader(string(body))), gate.Caller{
		Technician: technician, Node: node.Identity{NodeKey: key},
		Grant: grant.Grant{Technician: technician, NodeKey: key, Capabilities: []wire.Capability{wire.CapScreen}, IssuedAt: issued.Unix()},
	})
	if rec.Code == http.StatusOK {
		var a wire.ScreenAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		rx.answer(t, a.SDP)
	}
	return rec.Code, rec.Body.String()
}

// records are the audit trail's records of action (for technician, if
// not "").
func records(t *testing.T, l *auditlog.Log, action, technician string) []wire.AuditEvent {
	t.Helper()
	all, err := l.All()
	if err != nil {
		t.Fatal(err)
	}
	var out []wire.AuditEvent
	for _, ev := range all {
		if ev.Action == action && (technician == "" || ev.Fields["technician"] == technician) {
			out = append(out, ev)
		}
	}
	return out
}
