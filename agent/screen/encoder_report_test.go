//go:build cgo

package screen

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/webrtc/v4"
)

// TestSessionReportsEncoder (issue 15 item 3): the technician's side
// learns, on the control channel, which H.264 encoder the session's stream
// runs on and why a preferred one was passed over: the encoder's own
// Choice, as the browser shows it in the session's stats.
func TestSessionReportsEncoder(t *testing.T) {
	leak.Check(t)
	agentNet, techNet := limitedPath(t, 50_000_000)
	var (
		mu   sync.Mutex
		want string
	)
	h := New(Config{
		Net:        agentNet,
		Coding:     CodingScreen,
		OpenSource: func() (Source, error) { return &mover{noise: newNoise(160, 96)}, nil },
		NewEncoder: func(w, hh, fps, bitrate int) (Encoder, error) {
			e, err := h264.NewEncoder(h264.Options{Width: w, Height: hh, FPS: fps, Bitrate: bitrate})
			if err == nil {
				mu.Lock()
				want = e.Choice().String()
				mu.Unlock()
			}
			return e, err
		},
	})
	t.Cleanup(h.Close)
	rx := newReceiver(t, techNet)
	dc, err := rx.pc.CreateDataChannel(wire.ChannelInput, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan wire.ControlMessage, 16)
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		var c wire.ControlMessage
		if json.Unmarshal(m.Data, &c) == nil && c.Type == "encoder" {
			select {
			case got <- c:
			default: // the first is what the test reads
			}
		}
	})
	rx.connect(t, h)
	m := wait.Recv(t, "the encoder's report on the control channel", got)
	mu.Lock()
	defer mu.Unlock()
	if want == "" || m.Encoder != want {
		t.Fatalf("the session reported encoder %q, want %q (the encoder's Choice)", m.Encoder, want)
	}
	t.Logf("the session reports: %s", m.Encoder)
}
