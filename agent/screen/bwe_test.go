//go:build cgo

package screen

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/transport/v4/vnet"
	"github.com/pion/webrtc/v4"
)

// TestBitrateFollowsThePath sends a screen that wants ~3 Mbit/s, starting at 8, over a
// path that carries 1.5 Mbit/s (pion's virtual network, a token bucket in
// front of the technician) to a real WebRTC receiver that reports what
// arrived (transport-wide congestion control feedback). The session's
// target must fall below the path's rate and what arrives must stop being
// lost; with the estimate not wired to the encoder the target stays at its
// 8 Mbit/s start and most packets are dropped.
//
// The screen is generated blocks, not Xvfb: X capture is tested in package
// capture, and a desktop on Xvfb needs too little bandwidth (~0.2 Mbit/s
// scrolling) to exceed a path whose control traffic still gets through.
func TestBitrateFollowsThePath(t *testing.T) {
	const linkBPS = 1_500_000
	agentNet, techNet := limitedPath(t, linkBPS)

	h := New(Config{
		Net:        agentNet,
		OpenSource: func() (Source, error) { return newNoise(640, 360), nil },
		NewEncoder: func(w, hh, fps, bitrate int) (Encoder, error) {
			return h264.NewEncoder(h264.Options{Width: w, Height: hh, FPS: fps, Bitrate: bitrate})
		},
	})
	t.Cleanup(h.Close)

	rx := newReceiver(t, techNet)
	rx.connect(t, h)

	target := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.active == nil {
			return 0
		}
		return int(h.active.bitrate.Load())
	}
	if got := target(); got != 8_000_000 {
		t.Fatalf("the session starts at %d bit/s, want the 8 Mbit/s default", got)
	}
	// Congestion control converges in seconds; the deadline is generous.
	deadline := time.Now().Add(40 * time.Second)
	for target() >= linkBPS && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("target %d bit/s after the path filled", target())

	if got := target(); got >= linkBPS {
		t.Fatalf("target still %d bit/s over a %d bit/s path: the estimate does not reach the session", got, linkBPS)
	}
	// Once adapted, the stream fits the path: nearly every packet of a
	// few seconds arrives.
	time.Sleep(3 * time.Second)
	before := rx.counts()
	time.Sleep(4 * time.Second)
	after := rx.counts()
	got, span := after.packets-before.packets, after.highest-before.highest
	kbps := (after.bytes - before.bytes) * 8 / 4 / 1000
	t.Logf("adapted: %d of %d packets arrived (%d kbit/s), target %d bit/s", got, span, kbps, target())
	if span < 50 {
		t.Fatalf("only %d packets sent in 4 s: the screen stopped", span)
	}
	if lost := span - got; lost*10 > span {
		t.Errorf("%d of %d packets lost after adapting: the encoder does not follow the target", lost, span)
	}
	if got := target(); got < linkBPS/4 {
		t.Errorf("target collapsed to %d bit/s on a %d bit/s path", got, linkBPS)
	}
}

// limitedPath returns two hosts on a virtual network whose path to the
// second carries bps, with a second of queue (a home router's uplink).
// With a shallow queue (200 ms) pion's loss-based controller sees half the
// packets of small frames reported lost and settles at its 100 kbit/s floor;
// see docs/ARCHITECTURE.md "Congestion control".
func limitedPath(t *testing.T, bps int) (agent, tech *vnet.Net) {
	t.Helper()
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.9.0.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	agent, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.9.0.2"}})
	if err != nil {
		t.Fatal(err)
	}
	tech, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.9.0.3"}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := vnet.NewQueue(tech, vnet.NewTBFQueue(bps, 10*1500, int64(bps/8)))
	if err != nil {
		t.Fatal(err)
	}
	if err := wan.AddNet(agent); err != nil {
		t.Fatal(err)
	}
	if err := wan.AddNet(q); err != nil {
		t.Fatal(err)
	}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		q.Close()
		wan.Stop()
	})
	return agent, tech
}

// receiver is the technician's side: a pion peer that receives video and
// sends the transport-wide feedback a browser sends.
type receiver struct {
	pc *webrtc.PeerConnection

	mu sync.Mutex
	c  rxCounts
}

type rxCounts struct {
	packets, bytes int
	highest        int // extended sequence number
	// zeroDelay and otherDelay count packets carrying the playout-delay
	// extension with min = max = 0 and with anything else.
	zeroDelay, otherDelay int
	idrs                  int    // IDR pictures begun (first packet of each)
	ssrc                  uint32 // the video's SSRC
}

// newReceiver makes the technician's side; extensions are the RTP header
// extensions it offers besides pion's defaults.
func newReceiver(t *testing.T, n *vnet.Net, extensions ...string) *receiver {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	for _, uri := range extensions {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetNet(n)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	r := &receiver{pc: pc}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, rr *webrtc.RTPReceiver) {
		seen := map[int]bool{}
		var cycles, last int
		var delayID uint8
		for _, e := range rr.GetParameters().HeaderExtensions {
			if e.URI == playoutDelayURI {
				delayID = uint8(e.ID)
			}
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if b := p.GetExtension(delayID); delayID != 0 && b != nil {
				r.countDelay(b)
			}
			if startsIDR(p.Payload) {
				r.mu.Lock()
				r.c.idrs++
				r.mu.Unlock()
			}
			r.mu.Lock()
			r.c.ssrc = uint32(tr.SSRC())
			r.mu.Unlock()
			seq := int(p.SequenceNumber)
			if last > 0xc000 && seq < 0x4000 {
				cycles++
			}
			last = seq
			ext := cycles<<16 | seq
			if seen[ext] {
				continue // a retransmission counts once
			}
			seen[ext] = true
			r.mu.Lock()
			r.c.packets++
			r.c.bytes += len(p.Payload)
			r.c.highest = max(r.c.highest, ext)
			r.mu.Unlock()
		}
	})
	return r
}

// startsIDR reports whether an H.264 RTP payload (RFC 6184) holds an IDR
// slice or the first fragment of one.
func startsIDR(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch p[0] & 0x1f {
	case 5:
		return true
	case 28: // FU-A: the start bit and the fragmented unit's type
		return p[1]&0x80 != 0 && p[1]&0x1f == 5
	case 24: // STAP-A: 16-bit sizes, each followed by a NAL unit
		for q := p[1:]; len(q) > 2; {
			n := int(q[0])<<8 | int(q[1])
			if n == 0 || len(q) < 2+n {
				return false
			}
			if q[2]&0x1f == 5 {
				return true
			}
			q = q[2+n:]
		}
	}
	return false
}

func (r *receiver) countDelay(b []byte) {
	var d rtp.PlayoutDelayExtension
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.Unmarshal(b) == nil && d.MinDelay == 0 && d.MaxDelay == 0 {
		r.c.zeroDelay++
	} else {
		r.c.otherDelay++
	}
}

// connect hands the receiver's offer to the handler as the technician
// "tech" and applies the answer.
func (r *receiver) connect(t *testing.T, h *Handler) {
	t.Helper()
	body, _ := json.Marshal(wire.ScreenOffer{SDP: r.offer(t), Monitor: 0})
	rec := httptest.NewRecorder()
	h.ServePeer(rec, httptest.NewRequest("POST", wire.PeerPathScreenOffer, strings.NewReader(string(body))),
		gate.Caller{Technician: "tech"})
	if rec.Code != 200 {
		t.Fatalf("offer: %d %s", rec.Code, rec.Body)
	}
	var answer wire.ScreenAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatal(err)
	}
	r.answer(t, answer.SDP)
}

func (r *receiver) offer(t *testing.T) string {
	t.Helper()
	o, err := r.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(r.pc)
	if err := r.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return r.pc.LocalDescription().SDP
}

func (r *receiver) answer(t *testing.T, sdp string) {
	t.Helper()
	if err := r.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatal(err)
	}
}

func (r *receiver) counts() rxCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c
}

// noise is a screen whose every frame is new random blocks, 30 a second:
// more than any budget can carry sharply, yet something an encoder can
// make smaller by making it coarser (pixel noise cannot be).
const noiseBlock = 16

type noise struct {
	w, h int
	rng  *rand.ChaCha8
	next time.Time
}

func newNoise(w, h int) *noise {
	return &noise{w: w, h: h, rng: rand.NewChaCha8([32]byte{1})}
}

func (n *noise) Monitors() ([]wire.Monitor, error) {
	return []wire.Monitor{{Index: 0, Name: "noise", Width: n.w, Height: n.h, Primary: true}}, nil
}

func (n *noise) Select(int) error { return nil }

func (n *noise) Next(ctx context.Context) (Frame, error) {
	if err := n.wait(ctx); err != nil {
		return Frame{}, err
	}
	return n.Grab()
}

// wait sleeps until the next frame is due (30 a second) or ctx ends.
func (n *noise) wait(ctx context.Context) error {
	if wait := time.Until(n.next); wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil
}

func (n *noise) Grab() (Frame, error) {
	n.next = time.Now().Add(time.Second / 30)
	pix := make([]byte, n.w*n.h*4)
	var c [4]byte
	for by := 0; by < n.h; by += noiseBlock {
		for bx := 0; bx < n.w; bx += noiseBlock {
			n.rng.Read(c[:])
			for y := by; y < min(by+noiseBlock, n.h); y++ {
				for x := bx; x < min(bx+noiseBlock, n.w); x++ {
					copy(pix[y*n.w*4+x*4:], c[:])
				}
			}
		}
	}
	return Frame{Width: n.w, Height: n.h, Stride: n.w * 4, Pix: pix, Time: time.Now()}, nil
}

func (n *noise) Close() error { return nil }
