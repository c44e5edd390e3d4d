package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
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
