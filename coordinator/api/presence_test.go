package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/wire"
)

// TestPresenceStream: a device is online while its presence stream ticks,
// offline the moment the stream's connection goes (a killed agent), and
// offline once a stream stays quiet for wire.PresenceTimeout (a cut
// cable) — long before the heartbeat grace would say so.
func TestPresenceStream(t *testing.T) {
	t.Run("HTTP/1.1", func(t *testing.T) { testPresenceStream(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { testPresenceStream(t, true) })
}

func testPresenceStream(t *testing.T, http2 bool) {
	st := newStreamTest(t, http2)
	e, dev, srv := st.e, st.dev, st.srv
	client := coordclient.NewWithHTTPClient(srv.URL, srv.Client()).WithDevice(dev.DeviceID, dev.DeviceSecret)
	online, waitFor := st.online, st.waitFor

	// The agent dies: its end of the connection closes.
	ctx, kill := context.WithCancel(context.Background())
	defer kill() // before srv.Close, which waits for the stream to end
	done := make(chan error, 1)
	up := make(chan struct{})
	go func() { done <- client.Presence(ctx, func() { close(up) }) }()
	waitFor("stream open", true)
	<-up // the client was told the stream is up
	// Still online well past one tick: the stream is being read.
	time.Sleep(2 * wire.PresenceEvery)
	if !online() {
		t.Fatal("the stream stopped counting after its first tick")
	}
	kill()
	t.Logf("offline %v after the agent's connection closed", waitFor("agent killed", false))
	<-done

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
		var dump strings.Builder
		pprof.Lookup("goroutine").WriteTo(&dump, 1) //nolint:errcheck // strings.Builder
		if strings.Contains(dump.String(), "handlePresence") {
			t.Error("a handler is still running for a stream over HTTP/1.1")
		}
	}
	second := start()
	select {
	case err := <-first:
		t.Logf("first stream ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the first stream is still open after a second one started")
	}
	// The first stream's end did not mark the device offline; give a
	// wrong "gone" the time to land before looking.
	time.Sleep(2 * wire.PresenceEvery)
	if !online() {
		t.Fatal("the device shows offline while its second stream is up")
	}

	e.srv.Close()
	select {
	case err := <-second:
		t.Logf("second stream ended by Close: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Close left a stream open")
	}
	st.waitFor("last stream ended", false)
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
	start := time.Now()
	for deadline := start.Add(20 * time.Second); st.online() != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			st.t.Fatalf("%s: online is still %v", what, !want)
		}
	}
	return time.Since(start)
}
