package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator/audit"
	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// TestPresenceStream: a device is online while its presence stream ticks,
// offline the moment the stream's connection goes (a killed agent), and
// offline once a stream stays quiet for wire.PresenceTimeout (a cut
// cable) — long before the heartbeat grace would say so.
func TestPresenceStream(t *testing.T) {
	leak.Check(t)
	t.Run("HTTP/1.1", func(t *testing.T) { testPresenceStream(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { testPresenceStream(t, true) })
}

func testPresenceStream(t *testing.T, http2 bool) {
	st := newStreamTest(t, http2)
	e, dev, srv := st.e, st.dev, st.srv
	client := coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice(dev.DeviceID, dev.DeviceSecret)
	waitFor := st.waitFor

	// The agent dies: its end of the connection closes.
	ctx, kill := context.WithCancel(context.Background())
	defer kill() // before srv.Close, which waits for the stream to end
	done := make(chan error, 1)
	up := make(chan struct{})
	go func() { done <- client.Presence(ctx, func() { close(up) }) }()
	waitFor("stream open", true)
	wait.Recv(t, "the client to be told the stream is up", up)
	// The stream is read past its first tick: with the clock moved on, a
	// later tick is seen at the new time.
	later := st.e.clock.Advance(wire.PresenceEvery)
	wait.For(t, "a tick after the first", func() bool {
		last, on := st.e.presence.LastSeen(dev.DeviceID)
		return on && last.Equal(later)
	})
	kill()
	t.Logf("offline %v after the agent's connection closed", waitFor("agent killed", false))
	wait.Recv(t, "the killed agent's Presence to return", done)

	// The network goes quiet: one tick, then nothing, connection open.
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest("POST", srv.URL+wire.PathPresence, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", dev.auth)
	go func() { pw.Write([]byte{wire.PresenceTick}) }() //nolint:errcheck // the test reads the result from presence
	go func() {
		if resp, err := srv.Client().Do(req); err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // ends with the stream
			resp.Body.Close()
		}
	}()
	waitFor("quiet stream open", true)
	t.Logf("offline %v after the stream went quiet (timeout %v)", waitFor("quiet stream", false), wire.PresenceTimeout)

	// Without credentials there is no stream.
	w := e.do(e.pub, "POST", wire.PathPresence, "", ".")
	wantError(t, w, http.StatusUnauthorized, wire.CodeUnauthorized)
}

// TestPresenceOneStreamPerDevice: a device's newer stream ends the one
// before (an agent reconnecting before its old connection timed out
// cannot pile up connections, and the old stream's end does not mark it
// offline); Close ends every stream. Over HTTP/1.1 the stream lives on the
// connection taken from net/http, with no handler left running.
func TestPresenceOneStreamPerDevice(t *testing.T) {
	leak.Check(t)
	t.Run("HTTP/1.1", func(t *testing.T) { testOneStream(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { testOneStream(t, true) })
}

func testOneStream(t *testing.T, http2 bool) {
	st := newStreamTest(t, http2)
	e, dev, srv := st.e, st.dev, st.srv
	online := st.online
	// Each stream on a client of its own: its own connection.
	start := func() (ended chan error) {
		client := coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice(dev.DeviceID, dev.DeviceSecret)
		ended, up := make(chan error, 1), make(chan struct{})
		go func() { ended <- client.Presence(context.Background(), func() { close(up) }) }()
		select {
		case <-up:
		case err := <-ended:
			t.Fatalf("stream refused: %v", err)
		}
		return ended
	}
	first := start()
	if !http2 {
		// The handler that took the connection returns on its own while
		// the stream stays up: wait for it to be gone (it may still be on
		// its way out when the client sees the stream up), with the
		// stream's reader left running.
		wait.For(t, "the HTTP/1.1 handler to return, leaving the stream on its connection", func() bool {
			handlers, held := presenceGoroutines()
			return handlers == 0 && held == 1
		})
		select {
		case err := <-first:
			t.Fatalf("the stream ended with its handler: %v", err)
		default:
		}
	}
	second := start()
	t.Logf("first stream ended: %v", wait.Recv(t, "the first stream to end once a second one started", first))
	// The first stream's end does not mark the device offline: once
	// nothing of it runs any more (its done has run), the device is
	// online, and stays so while the second stream ticks.
	wait.For(t, "the first stream's goroutine to end", func() bool {
		handlers, held := presenceGoroutines()
		return handlers+held == 1
	})
	wait.Holds(t, 2*wire.PresenceEvery, "the device online while its second stream is up", online)

	e.srv.Close()
	// Close returned once the stream had ended: its done has run.
	if online() {
		t.Error("the device shows online after Close returned")
	}
	t.Logf("second stream ended by Close: %v", wait.Recv(t, "Close to end the second stream", second))
	// A closed server takes no new stream.
	client := coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice(dev.DeviceID, dev.DeviceSecret)
	if err := client.Presence(context.Background(), func() { t.Error("a stream was accepted after Close") }); err == nil {
		t.Fatal("no error from a refused stream")
	}
}

// streamTest is an API server over TLS (HTTP/2 or HTTP/1.1) with one
// enrolled device, for the presence stream tests.
type streamTest struct {
	t   *testing.T
	e   *env
	dev enrolled
	srv *httptest.Server
}

func newStreamTest(t *testing.T, http2 bool) *streamTest {
	e := newEnv(t)
	dev := e.enroll(t, "pc-1", 'a')
	srv := httptest.NewUnstartedServer(e.pub)
	srv.EnableHTTP2 = http2
	srv.StartTLS()
	t.Cleanup(srv.Close) // after the tests' own deferred stream ends
	return &streamTest{t: t, e: e, dev: dev, srv: srv}
}

func (st *streamTest) online() bool {
	_, on := st.e.presence.LastSeen(st.dev.DeviceID)
	return on
}

// waitFor waits until the device's online state is want and says how
// long that took.
func (st *streamTest) waitFor(what string, want bool) time.Duration {
	st.t.Helper()
	return wait.For(st.t, fmt.Sprintf("%s: online %v", what, want), func() bool { return st.online() == want })
}

// presenceGoroutines counts the goroutines serving presence streams in
// this process: handlers (in handlePresence: every HTTP/2 stream, and an
// HTTP/1.1 one until it has taken its connection) and readers of taken
// HTTP/1.1 connections (holdPresence).
func presenceGoroutines() (handlers, held int) {
	for _, g := range leak.Goroutines() {
		switch {
		case strings.Contains(g, ".(*Server).handlePresence("):
			handlers++
		case strings.Contains(g, ".holdPresence("):
			held++
		}
	}
	return handlers, held
}

// TestPresenceBroadcast: a broadcast message reaches every open stream
// (over HTTP/1.1 on the connection taken from net/http, over HTTP/2
// through the handler), a message sent to one device reaches that device
// only, and a stream that opens later (an agent that was reconnecting) is
// told what was broadcast within the replay window, and nothing older.
func TestPresenceBroadcast(t *testing.T) {
	leak.Check(t)
	t.Run("HTTP/1.1", func(t *testing.T) { testBroadcast(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { testBroadcast(t, true) })
}

func testBroadcast(t *testing.T, http2 bool) {
	st := newStreamTest(t, http2)
	p := st.e.presence
	other := st.e.enroll(t, "pc-2", 'b')
	a, b := st.listen(st.dev), st.listen(other)

	revoke := func(tech string) wire.PresenceMessage {
		return wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: tech, Reason: "disabled", At: st.e.clock.Now().UTC()}
	}
	bob, carol, dave := revoke("bob"), revoke("carol"), revoke("dave")
	if err := p.Broadcast(bob); err != nil {
		t.Fatal(err)
	}
	a.expect(t, bob)
	b.expect(t, bob)
	// Sent to the second device only; a later broadcast is the first
	// device's next message (a stream keeps its order).
	if ok, err := p.Send(other.DeviceID, carol); !ok || err != nil {
		t.Fatalf("Send to an open stream: %v, %v", ok, err)
	}
	b.expect(t, carol)
	if err := p.Broadcast(dave); err != nil {
		t.Fatal(err)
	}
	a.expect(t, dave)
	b.expect(t, dave)
	if ok, err := p.Send("no-such-device", carol); ok || err != nil {
		t.Fatalf("Send to a device without a stream: %v, %v", ok, err)
	}
	if err := p.Broadcast(wire.PresenceMessage{Type: wire.PresenceRevoke}); !errors.Is(err, wire.ErrBadPresenceMessage) {
		t.Fatalf("Broadcast of a message that names nobody: %v", err)
	}

	// The first agent reconnects: its new stream replays the broadcasts.
	a.stop()
	again := st.listen(st.dev)
	again.expect(t, bob)
	again.expect(t, dave)
	// Once the window has passed, nothing is replayed: a broadcast made
	// after the reconnect is the new stream's first message.
	again.stop()
	st.e.clock.Advance(defaultReplayFor + time.Second)
	late := st.listen(st.dev)
	eve := revoke("eve")
	if err := p.Broadcast(eve); err != nil {
		t.Fatal(err)
	}
	late.expect(t, eve)

	// A removed device's stream is ended from the coordinator's side.
	if !p.End(st.dev.DeviceID) {
		t.Fatal("End found no stream")
	}
	st.waitFor("the removed device's stream ended", false)
	if p.End("no-such-device") {
		t.Fatal("End ended a stream of a device without one")
	}
}

// TestPresenceStalledReader: an agent that does not read its stream (a
// stalled machine, or an agent from before messages that never reads)
// holds up neither Broadcast nor the other streams. Each Broadcast
// returns at once, the healthy stream gets every message, and the
// stalled stream is dropped once its writes stop going through (the
// write deadline, or a full queue) while its agent still ticks.
func TestPresenceStalledReader(t *testing.T) {
	leak.Check(t)
	t.Run("HTTP/1.1", func(t *testing.T) { testStalled(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { testStalled(t, true) })
}

func testStalled(t *testing.T, http2 bool) {
	st := newStreamTest(t, http2)
	p := st.e.presence
	p.writeTimeout = 300 * time.Millisecond // before any stream: each takes it when it opens
	healthy := st.e.enroll(t, "pc-2", 'b')
	h := st.listen(healthy)
	st.stalled(st.dev)

	// Large messages fill the stalled connection's buffers sooner.
	keys := make([]string, wire.MaxPresenceNodeKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("nodekey:%064x", i)
	}
	open := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.streams[st.dev.DeviceID] != nil
	}
	sent := 0
	for open() {
		if sent > 100_000 {
			t.Fatalf("the stalled stream is still open after %d messages", sent)
		}
		msg := wire.PresenceMessage{Type: wire.PresenceRevoke, NodeKeys: keys, Reason: fmt.Sprint(sent), At: t0}
		done := make(chan error, 1)
		go func() { done <- p.Broadcast(msg) }()
		if err := wait.Recv(t, "Broadcast to return while a stream is stalled", done); err != nil {
			t.Fatal(err)
		}
		sent++
		h.expect(t, msg)
	}
	t.Logf("the stalled stream was dropped after %d messages", sent)
	if _, online := p.LastSeen(st.dev.DeviceID); online {
		t.Error("the dropped device still shows online")
	}
	// The healthy stream is untouched.
	if _, online := p.LastSeen(healthy.DeviceID); !online {
		t.Error("the healthy device went offline")
	}
	last := wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: "bob", At: t0}
	if err := p.Broadcast(last); err != nil {
		t.Fatal(err)
	}
	h.expect(t, last)
}

// listener is one agent's presence stream, read through coordclient.
type listener struct {
	msgs chan wire.PresenceMessage
	stop func() // ends the stream and waits for it
}

func (l *listener) expect(t *testing.T, want wire.PresenceMessage) {
	t.Helper()
	got := wait.Recv(t, "a message on the stream", l.msgs)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("message (-want +got):\n%s", diff)
	}
}

// listen opens dev's presence stream on a connection of its own and
// returns once the coordinator has it.
func (st *streamTest) listen(dev enrolled) *listener {
	st.t.Helper()
	tr := st.srv.Client().Transport.(*http.Transport).Clone()
	client := coordclient.NewWithHTTPClient(st.srv.URL, &http.Client{Transport: tr}).WithDevice(dev.DeviceID, dev.DeviceSecret)
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{msgs: make(chan wire.PresenceMessage, 64)}
	up, ended := make(chan struct{}), make(chan error, 1)
	go func() {
		ended <- client.PresenceStream(ctx, coordclient.PresenceHandlers{
			Up:      func() { close(up) },
			Message: func(m wire.PresenceMessage) { l.msgs <- m },
			Invalid: func(err error) { st.t.Errorf("an invalid line on the stream: %v", err) },
		})
	}()
	select {
	case <-up:
	case err := <-ended:
		st.t.Fatalf("stream refused: %v", err)
	}
	var once sync.Once
	l.stop = func() {
		once.Do(func() {
			cancel()
			<-ended
			tr.CloseIdleConnections()
		})
	}
	st.t.Cleanup(l.stop) // before the server's Close, registered earlier
	// The coordinator holds the stream (the client may see its answer
	// before the stream is registered as the device's).
	wait.For(st.t, "the stream to be the device's", func() bool {
		st.e.presence.mu.Lock()
		defer st.e.presence.mu.Unlock()
		s := st.e.presence.streams[dev.DeviceID]
		return s != nil && s.write != nil
	})
	return l
}

// stalled opens dev's presence stream as an agent that ticks but never
// reads the answer's body.
func (st *streamTest) stalled(dev enrolled) {
	st.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() { // ticks as an agent does, so the stream never goes quiet
		tick := time.NewTicker(wire.PresenceEvery)
		defer tick.Stop()
		for {
			if _, err := pw.Write([]byte{wire.PresenceTick}); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			case <-tick.C:
			}
		}
	})
	tr := st.srv.Client().Transport.(*http.Transport).Clone()
	stop := func() {
		cancel()
		pr.Close()
		wg.Wait()
		tr.CloseIdleConnections()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.srv.URL+wire.PathPresence, pr)
	if err != nil {
		stop()
		st.t.Fatal(err)
	}
	req.Header.Set("Authorization", dev.auth)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		stop()
		st.t.Fatalf("the stalled stream was not accepted: %v %v", resp, err)
	}
	st.t.Cleanup(func() {
		resp.Body.Close()
		stop()
	})
	wait.For(st.t, "the stalled stream to be the device's", func() bool {
		st.e.presence.mu.Lock()
		defer st.e.presence.mu.Unlock()
		s := st.e.presence.streams[dev.DeviceID]
		return s != nil && s.write != nil
	})
}

// TestM5DisableReachesAgentsAndOverlay: disabling a technician (through
// the accounts layer, as the admin CLI and the Users page do) tells every
// agent over its presence stream to end that technician's sessions, with
// the technician's node keys; deletes their overlay nodes and no one
// else's; refuses their session at its next request; and is audited.
func TestM5DisableReachesAgentsAndOverlay(t *testing.T) {
	leak.Check(t)
	st := newStreamTest(t, false)
	e := st.e
	stop := e.accounts.OnRevoke(e.desk.Revoked)
	defer stop()
	bob, carol := e.session(t, "bob", policy.RoleTechnician), e.session(t, "carol", policy.RoleTechnician)
	bobKey, carolKey := "nodekey:"+strings.Repeat("b", 64), "nodekey:"+strings.Repeat("c", 64)
	for id, who := range map[uint64]string{501: "bob", 502: "carol"} {
		if err := e.accounts.RecordOverlayKey(id, who); err != nil {
			t.Fatal(err)
		}
	}
	e.overlay.setNodes(
		overlay.Node{NodeKey: bobKey, Tags: []string{wire.TagTech}, AuthKeyID: 501},
		overlay.Node{NodeKey: carolKey, Tags: []string{wire.TagTech}, AuthKeyID: 502},
	)
	agent := st.listen(st.dev)

	if err := e.accounts.Disable("bob"); err != nil {
		t.Fatal(err)
	}
	agent.expect(t, wire.PresenceMessage{Type: wire.PresenceRevoke, Technician: "bob", NodeKeys: []string{bobKey},
		Reason: "disabled", At: e.clock.Now().UTC()})
	if nodes := e.overlay.Nodes(); len(nodes) != 1 || nodes[0].NodeKey != carolKey {
		t.Fatalf("overlay nodes after disabling bob: %+v, want carol's only", nodes)
	}
	wantError(t, e.do(e.pub, "GET", wire.PathDevices, bob, ""), http.StatusUnauthorized, wire.CodeUnauthorized)
	if w := e.do(e.pub, "GET", wire.PathDevices, carol, ""); w.Code != http.StatusOK {
		t.Fatalf("carol after bob's disabling: %d %s", w.Code, w.Body)
	}
	recs := e.records(t, "technician.revoke", audit.OK)
	if len(recs) != 1 || recs[0].Target != "bob" || recs[0].Fields["nodes_deleted"] != "1" {
		t.Fatalf("revocation audit: %+v", recs)
	}
}
