//go:build cgo

package screen

import (
	"testing"

	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// TestPlayoutDelayZero checks that every packet of the screen tells a
// receiver that offered the playout-delay extension to show frames at once
// (min = max = 0), and that a receiver that did not offer it gets packets
// without it. Without the extension Chrome holds frames in a jitter buffer
// sized for calls: p95 screen → browser went from 96 to 30 ms with it (see
// docs/BENCHMARKS.md).
func TestPlayoutDelayZero(t *testing.T) {
	leak.Check(t)
	for _, tc := range []struct {
		name  string
		offer []string
	}{
		{"offered", []string{playoutDelayURI}},
		{"not offered", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agentNet, techNet := limitedPath(t, 50_000_000)
			h := New(Config{
				Net:        agentNet,
				OpenSource: func() (Source, error) { return newNoise(160, 96), nil },
				NewEncoder: func(w, hh, fps, bitrate int) (Encoder, error) {
					return h264.NewEncoder(h264.Options{Width: w, Height: hh, FPS: fps, Bitrate: bitrate})
				},
			})
			t.Cleanup(h.Close)
			rx := newReceiver(t, techNet, tc.offer...)
			rx.connect(t, h)
			wait.For(t, "60 packets", func() bool { return rx.counts().packets >= 60 })
			c := rx.counts()
			t.Logf("%d packets: %d with zero delay, %d with another", c.packets, c.zeroDelay, c.otherDelay)
			if tc.offer == nil {
				if c.zeroDelay+c.otherDelay != 0 {
					t.Fatalf("%d packets carry an extension the receiver did not accept", c.zeroDelay+c.otherDelay)
				}
				return
			}
			// Retransmissions are counted too, so compare with what was read.
			if c.otherDelay != 0 || c.zeroDelay < c.packets {
				t.Fatalf("of %d packets, %d carry min = max = 0 and %d another delay; want all at zero", c.packets, c.zeroDelay, c.otherDelay)
			}
		})
	}
}
