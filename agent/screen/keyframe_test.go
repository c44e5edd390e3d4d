//go:build cgo

package screen

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/pion/rtcp"
)

// TestKeyframeOnRequest: the stream has at most one IDR (the first
// picture, which is lost when it is sent before the receiver's DTLS is up —
// a browser then asks) until the receiver asks with a PLI, and then one
// more for each request (a FIR likewise).
func TestKeyframeOnRequest(t *testing.T) {
	leak.Check(t)
	agentNet, techNet := limitedPath(t, 50_000_000)
	h := New(Config{
		Net:        agentNet,
		Coding:     CodingScreen, // no IDR from a change of coding during the test
		OpenSource: func() (Source, error) { return &mover{noise: newNoise(160, 96)}, nil },
		NewEncoder: func(w, hh, fps, bitrate int) (Encoder, error) {
			return h264.NewEncoder(h264.Options{Width: w, Height: hh, FPS: fps, Bitrate: bitrate})
		},
	})
	t.Cleanup(h.Close)
	rx := newReceiver(t, techNet)
	rx.connect(t, h)
	waitFor := func(what string, ok func(rxCounts) bool) (c rxCounts) {
		t.Helper()
		wait.ForErr(t, what, func() error {
			if c = rx.counts(); !ok(c) {
				return fmt.Errorf("counts %+v", c)
			}
			return nil
		})
		return c
	}
	c := waitFor("60 packets", func(c rxCounts) bool { return c.packets >= 60 })
	if c.idrs > 1 {
		t.Fatalf("%d IDRs before any request, want the first one at most", c.idrs)
	}
	for i, p := range []func(ssrc uint32) rtcp.Packet{
		func(ssrc uint32) rtcp.Packet { return &rtcp.PictureLossIndication{MediaSSRC: ssrc} },
		func(ssrc uint32) rtcp.Packet {
			return &rtcp.FullIntraRequest{MediaSSRC: ssrc, FIR: []rtcp.FIREntry{{SSRC: ssrc, SequenceNumber: 1}}}
		},
	} {
		before := rx.counts()
		if err := rx.pc.WriteRTCP([]rtcp.Packet{p(before.ssrc)}); err != nil {
			t.Fatal(err)
		}
		waitFor("an IDR after request "+string(rune('1'+i)), func(c rxCounts) bool { return c.idrs > before.idrs })
	}
	// And none unasked: 60 more packets bring no IDR.
	before := rx.counts()
	after := waitFor("60 more packets", func(c rxCounts) bool { return c.packets >= before.packets+60 })
	if after.idrs != before.idrs {
		t.Fatalf("%d IDRs nobody asked for", after.idrs-before.idrs)
	}
}

// mover is a grey screen with one block moving along it, 30 frames a
// second: every frame changes, none is a new scene (random noise makes
// OpenH264 code every frame as an IDR).
type mover struct {
	*noise
	i int
}

func (m *mover) Grab() (Frame, error) {
	m.next = time.Now().Add(time.Second / 30)
	pix := make([]byte, m.w*m.h*4)
	for i := range pix {
		pix[i] = 0x80
	}
	x0 := (m.i * 4) % (m.w - 16)
	m.i++
	for y := 40; y < 56; y++ {
		for x := x0; x < x0+16; x++ {
			copy(pix[(y*m.w+x)*4:], []byte{0x20, 0xc0, 0x40, 0xff})
		}
	}
	return Frame{Width: m.w, Height: m.h, Stride: m.w * 4, Pix: pix, Time: time.Now()}, nil
}

func (m *mover) Next(ctx context.Context) (Frame, error) {
	if err := m.wait(ctx); err != nil {
		return Frame{}, err
	}
	return m.Grab()
}
