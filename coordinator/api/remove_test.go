package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// TestM5RemovedDevicePresenceEndsAndIsRefused (M5, issue 11 item 3): an
// admin's removal of a device ends the presence stream it holds open —
// opened with credentials that no longer authenticate, it would otherwise
// run on — and the agent's reconnection is answered with a refusal at
// once. Over HTTP/1.1 net/http read a refused request's never-ending
// body before answering, so the refused agent waited forever.
func TestM5RemovedDevicePresenceEndsAndIsRefused(t *testing.T) {
	leak.Check(t)
	t.Run("HTTP/1.1", func(t *testing.T) { testRemovedPresence(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { testRemovedPresence(t, true) })
}

func testRemovedPresence(t *testing.T, http2 bool) {
	st := newStreamTest(t, http2)
	tr := st.srv.Client().Transport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	client := coordclient.NewWithHTTPClient(st.srv.URL, &http.Client{Transport: tr}).WithDevice(st.dev.DeviceID, st.dev.DeviceSecret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := func() (up chan struct{}, ended chan error) {
		up, ended = make(chan struct{}), make(chan error, 1)
		go func() { ended <- client.PresenceStream(ctx, coordclient.PresenceHandlers{Up: func() { close(up) }}) }()
		return up, ended
	}
	up, ended := stream()
	wait.Recv(t, "the stream to be up", up)
	st.waitFor("stream open", true)

	if err := st.e.desk.RemoveDevice(desk.Local(), st.dev.DeviceID); err != nil {
		t.Fatal(err)
	}
	err := wait.Recv(t, "the removed device's stream to end", ended)
	t.Logf("the open stream ended: %v", err)

	_, ended = stream()
	err = wait.Recv(t, "the removed device's reconnection to be answered", ended)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("the removed device's reconnection: %v, want a 401 refusal", err)
	}
}
