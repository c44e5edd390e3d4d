package screen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// h264Fmtp is the codec offered to browsers: constrained baseline,
// non-interleaved packetisation.
const h264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

type session struct {
	h          *Handler
	technician string
	holder     consent.Holder // whom revocations are matched against
	lease      *consent.Lease // what the user allowed; input only while it allows input
	pc         *webrtc.PeerConnection
	track      *webrtc.TrackLocalStaticSample
	ctx        context.Context
	cancel     context.CancelFunc
	keyframe   chan struct{} // a keyframe was asked for
	bitrate    atomic.Int64
	monitor    atomic.Int64 // requested monitor index
	monitorSet chan struct{}
	endOnce    sync.Once
	endReason  atomic.Value

	mu      sync.Mutex
	origin  image.Point
	inject  Injector
	control *webrtc.DataChannel
	encoder string // the stream's encoder, for the session's stats (setEncoder)
}

func (h *Handler) start(offer wire.ScreenOffer, c gate.Caller, lease *consent.Lease) (*session, wire.ScreenAnswer, error) {
	src, err := h.cfg.OpenSource()
	if err != nil {
		return nil, wire.ScreenAnswer{}, fmt.Errorf("opening the screen: %w", err)
	}
	monitors, err := src.Monitors()
	if err != nil {
		src.Close()
		return nil, wire.ScreenAnswer{}, fmt.Errorf("listing monitors: %w", err)
	}
	pc, bwe, err := h.newPeerConnection()
	if err != nil {
		src.Close()
		return nil, wire.ScreenAnswer{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		h: h, technician: c.Technician, lease: lease, pc: pc,
		holder: consent.Holder{Technician: c.Technician, NodeKey: c.Node.NodeKey, Issued: time.Unix(c.Grant.IssuedAt, 0)},
		ctx:    ctx, cancel: cancel, keyframe: make(chan struct{}, 1), monitorSet: make(chan struct{}, 1),
	}
	s.bitrate.Store(int64(h.cfg.Bitrate.Start))
	s.monitor.Store(int64(offer.Monitor))
	fail := func(err error) (*session, wire.ScreenAnswer, error) {
		cancel()
		pc.Close()
		src.Close()
		return nil, wire.ScreenAnswer{}, err
	}
	s.track, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp}, "screen", "peerdesk")
	if err != nil {
		return fail(err)
	}
	sender, err := pc.AddTrack(s.track)
	if err != nil {
		return fail(err)
	}
	if lease.Allows(wire.CapInput) && h.cfg.Input != nil {
		if s.inject, err = h.cfg.Input(); err != nil {
			h.cfg.Logger.Warn("input unavailable; the session is view-only", "err", err)
			s.inject = nil
		}
	}
	pc.OnDataChannel(s.onDataChannel)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		h.cfg.Logger.Debug("screen session connection", "state", st.String(), "technician", c.Technician)
		switch st {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			s.end("connection " + st.String())
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		return fail(fmt.Errorf("offer: %w", err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("answer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(fmt.Errorf("answer: %w", err))
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		return fail(errors.New("ICE gathering did not finish"))
	}

	h.mu.Lock()
	h.active = s
	h.mu.Unlock()
	h.wg.Go(func() { // the user's End (or the lease's end) ends the session
		select {
		case <-lease.Done():
			s.end(lease.Reason())
		case <-ctx.Done():
		}
	})
	bweReady := make(chan cc.BandwidthEstimator, 1)
	h.wg.Go(func() { // owned like the others: Close waits for it
		select {
		case e := <-bwe:
			bweReady <- e
		case <-ctx.Done():
		}
	})
	h.wg.Go(func() { s.readRTCP(sender) })
	h.wg.Go(func() { s.stream(src, bweReady) })
	allowed := lease.Capabilities()
	if s.inject == nil {
		allowed = slices.DeleteFunc(allowed, func(c wire.Capability) bool { return c == wire.CapInput })
	}
	return s, wire.ScreenAnswer{SDP: pc.LocalDescription().SDP, Monitors: monitors, Allowed: allowed}, nil
}

func (h *Handler) newPeerConnection() (*webrtc.PeerConnection, <-chan cc.BandwidthEstimator, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "transport-cc"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp, RTCPFeedback: fb},
		PayloadType:        102,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, nil, err
	}
	reg := &interceptor.Registry{}
	br := h.cfg.Bitrate
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		// No pacer: a screen keyframe is a burst the browser should get at
		// once; pacing it at the estimate adds whole frames of delay.
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(br.Start), gcc.SendSideBWEMinBitrate(br.Min),
			gcc.SendSideBWEMaxBitrate(br.Max), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		return nil, nil, err
	}
	bwe := make(chan cc.BandwidthEstimator, 1)
	ccf.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) {
		select {
		case bwe <- e:
		default:
		}
	})
	reg.Add(ccf)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, nil, err
	}
	if err := registerPlayoutDelay(m, reg); err != nil {
		return nil, nil, err
	}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetNet(h.cfg.Net)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(false)
	// A dead technician is noticed in seconds, not by the overlay's grace.
	se.SetICETimeouts(3*time.Second, 8*time.Second, time.Second)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, nil, err
	}
	return pc, bwe, nil
}

// readRTCP turns the browser's PLI and FIR into keyframe requests.
func (s *session) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.askKeyframe()
			}
		}
	}
}

func (s *session) askKeyframe() {
	select {
	case s.keyframe <- struct{}{}:
	default:
	}
}

func (s *session) end(reason string) {
	s.endOnce.Do(func() {
		s.endReason.Store(reason)
		s.sendControl(wire.ControlMessage{Type: "ended", Reason: reason})
		s.drainControl(time.Second)
		s.cancel()
		s.pc.Close() //nolint:errcheck // ending anyway
		s.mu.Lock()
		if s.inject != nil {
			s.inject.ReleaseAll() //nolint:errcheck // best effort: keys must not stay down
		}
		s.mu.Unlock()
		s.h.finished(s, reason)
	})
}

func (s *session) sendControl(m wire.ControlMessage) {
	s.mu.Lock()
	dc := s.control
	s.mu.Unlock()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return
	}
	b, _ := json.Marshal(m) //nolint:errcheck // a plain struct cannot fail
	dc.SendText(string(b))  //nolint:errcheck // best effort
}

// drainControl waits (bounded) until the control channel has sent what it
// holds, so the browser learns why the session ended before it closes.
func (s *session) drainControl(limit time.Duration) {
	s.mu.Lock()
	dc := s.control
	s.mu.Unlock()
	if dc == nil {
		return
	}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if dc.ReadyState() != webrtc.DataChannelStateOpen || dc.BufferedAmount() == 0 {
			break
		}
	}
	// Buffered is not yet delivered: give SCTP a moment to put it on the
	// wire before the association is torn down.
	time.Sleep(50 * time.Millisecond)
}

func sample(au []byte, d time.Duration) media.Sample { return media.Sample{Data: au, Duration: d} }
