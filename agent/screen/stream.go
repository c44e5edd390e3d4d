package screen

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync/atomic"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/interceptor/pkg/cc"
)

// stream captures, encodes and sends until the session ends. It grabs only
// when the screen changed (or a keyframe is needed), at most FPS times a
// second; between changes it sleeps in the capture's damage wait, waking
// to refine the last picture and, on a still screen, every keepAlive.
func (s *session) stream(src Source, bwe <-chan cc.BandwidthEstimator) {
	defer src.Close()
	log := s.h.cfg.Logger
	interval := time.Second / time.Duration(s.h.cfg.FPS)
	var (
		enc       Encoder
		encW      int
		encH      int
		lastSent  time.Time
		slot      time.Time // when the last frame was due
		needKey   = true
		monitor   = -2
		estimator cc.BandwidthEstimator
		frames    int
		content   contentPolicy
		applied   = h264.Content(-1) // what enc was last told to code for
		// After the screen stops changing, the encoder keeps improving the
		// last picture for a moment (its rate control sends a soft picture
		// first); refineUntil is when that stops.
		refineUntil time.Time
	)
	defer func() {
		if enc != nil {
			enc.Close()
		}
	}()
	// send writes an access unit with the time since the last one.
	send := func(au []byte) time.Time {
		now := time.Now()
		d := interval
		if !lastSent.IsZero() {
			d = now.Sub(lastSent)
		}
		if err := s.track.WriteSample(sample(au, d)); err != nil {
			log.Debug("writing a sample", "err", err)
		}
		lastSent = now
		return now
	}
	for s.ctx.Err() == nil {
		if estimator == nil {
			select {
			case estimator = <-bwe:
				var logged atomic.Int64 // the last target logged
				estimator.OnTargetBitrateChange(func(bps int) {
					s.bitrate.Store(int64(bps))
					if old := int(logged.Load()); bps > old*5/4 || bps < old*4/5 {
						logged.Store(int64(bps))
						log.Debug("target bitrate", "bps", bps)
					}
				})
			default:
			}
		}
		if want := int(s.monitor.Load()); want != monitor {
			if err := src.Select(want); err != nil {
				log.Warn("selecting monitor", "monitor", want, "err", err)
				s.monitor.Store(int64(monitor))
				if monitor == -2 { // the very first selection failed: show everything
					if err := src.Select(-1); err != nil {
						s.end("capture failed: " + err.Error())
						return
					}
					monitor = -1
				}
			} else {
				monitor = want
				s.setOrigin(src, monitor)
			}
			needKey = true
		}
		var f Frame
		var err error
		repeat, refining := false, false
		if needKey {
			f, err = src.Grab()
		} else {
			idle := keepAlive
			if time.Now().Before(refineUntil) {
				idle, refining = refineWait, true
			}
			f, err = s.nextChange(src, idle)
			if errors.Is(err, errIdle) && !refining && enc != nil {
				// Still: show the last picture again without capturing
				// or encoding, if the encoder can.
				if au, err := enc.Repeat(); err == nil {
					send(au)
					continue
				}
			}
			if errors.Is(err, errIdle) {
				f, err = src.Grab()
				repeat = true
			} else {
				refining = false
			}
		}
		if errors.Is(err, errWake) {
			needKey = needKey || s.takeKeyframe()
			continue
		}
		if err != nil {
			if s.ctx.Err() == nil {
				s.end("capture failed: " + err.Error())
			}
			return
		}
		needKey = needKey || s.takeKeyframe()
		if enc == nil || f.Width != encW || f.Height != encH {
			if enc != nil {
				enc.Close()
			}
			enc, err = s.h.cfg.NewEncoder(f.Width, f.Height, s.h.cfg.FPS, int(s.bitrate.Load()))
			if err != nil {
				s.end("encoder failed: " + err.Error())
				return
			}
			encW, encH, needKey, applied = f.Width, f.Height, true, -1
			s.setEncoder(encoderName(enc))
		}
		bps := int(s.bitrate.Load())
		if c := s.h.cfg.Coding.pick(&content, time.Now(), bps); c != applied {
			if err := enc.SetContent(c); err != nil {
				log.Debug("setting content", "err", err)
			} else {
				log.Debug("coding for", "content", c.String(), "bps", bps)
			}
			applied = c
		}
		if applied == h264.Camera {
			bps = min(bps, cameraMaxBitrate)
		}
		if err := enc.SetBitrate(bps); err != nil {
			log.Debug("setting bitrate", "err", err)
		}
		au, err := enc.Encode(f.Pix, f.Stride, needKey)
		if err != nil {
			s.end("encoding failed: " + err.Error())
			return
		}
		switch {
		case refining && len(au) < refinedBytes:
			refineUntil = time.Time{} // sharp: the encoder has nothing left to add
		case !repeat:
			refineUntil = time.Now().Add(refineFor)
		}
		if len(au) == 0 {
			continue // the rate controller skipped this frame
		}
		now := send(au)
		if frames++; frames == 1 || frames%300 == 0 {
			log.Debug("screen frames sent", "frames", frames, "bytes", len(au), "keyframe", needKey, "size", fmt.Sprintf("%dx%d", f.Width, f.Height))
		}
		needKey = false
		// Pace to FPS on a schedule of slots one interval apart, counting
		// from when this frame's pixels were read (capture and encoding
		// are part of the frame's time). The next grab comes a moment
		// after its slot (the damage fetch is a round trip), so each slot
		// follows the last slot, not the last grab: counting from grabs
		// lost that moment every frame (28.7 fps instead of 30). After a
		// pause longer than a slot the schedule restarts from the grab.
		// Changes during the wait are collected by the next damage wait
		// and sent as one frame.
		grabbed := f.Time
		if grabbed.IsZero() {
			grabbed = now
		}
		if slot.IsZero() || grabbed.Sub(slot) >= interval || grabbed.Before(slot) {
			slot = grabbed
		}
		slot = slot.Add(interval)
		if wait := time.Until(slot); wait > 0 {
			select {
			case <-s.ctx.Done():
			case <-time.After(wait):
			}
		}
	}
}

var (
	errWake = errors.New("screen: woken")
	errIdle = errors.New("screen: idle")
)

// Refinement of a still screen: re-encode the unchanged picture every
// refineWait for up to refineFor after the last change, until a frame costs
// less than refinedBytes (the encoder has nothing left to improve).
const (
	refineWait   = 150 * time.Millisecond
	refineFor    = 1500 * time.Millisecond
	refinedBytes = 200
)

// keepAlive is how long a still screen goes without a frame. The browser
// asks for a keyframe when it has decoded nothing for 3 s (libwebrtc's
// VideoReceiveStream2, "No decodable frame in 3000 ms"), and a 1080p
// keyframe of a busy desktop is ~40 kB and 30+ ms of encoding. Before then
// the stream repeats the last picture: the encoder's Repeat (a skipped-
// macroblock picture of a few bytes, no capture, no encoding), or, where
// it cannot, the unchanged picture encoded again (13–16 ms at 1080p).
// libwebrtc's own screen-share sender repeats an idle frame for the same
// reason (its "zero-hertz" cadence adapter).
const keepAlive = 1500 * time.Millisecond

// nextChange waits for damage, a keyframe request, a monitor switch or the
// end of the session, whichever comes first; with idle > 0, at most that
// long (then errIdle).
func (s *session) nextChange(src Source, idle time.Duration) (Frame, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	if idle > 0 {
		ctx, cancel = context.WithTimeout(s.ctx, idle)
	}
	defer cancel()
	woken := make(chan struct{})
	go func() {
		defer close(woken)
		select {
		case <-s.keyframe:
			s.askKeyframeLater()
			cancel()
		case <-s.monitorSet:
			cancel()
		case <-ctx.Done():
		}
	}()
	f, err := src.Next(ctx)
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	cancel()
	<-woken
	if err != nil && s.ctx.Err() == nil && ctx.Err() != nil {
		if timedOut {
			return Frame{}, errIdle
		}
		return Frame{}, errWake
	}
	return f, err
}

// A keyframe request consumed while waking the loop is re-armed so
// takeKeyframe sees it.
func (s *session) askKeyframeLater() { s.askKeyframe() }

func (s *session) takeKeyframe() bool {
	select {
	case <-s.keyframe:
		return true
	default:
		return false
	}
}

func (s *session) setOrigin(src Source, monitor int) {
	o := image.Point{}
	if ms, err := src.Monitors(); err == nil && monitor >= 0 && monitor < len(ms) {
		o = image.Pt(ms[monitor].X, ms[monitor].Y)
	}
	s.mu.Lock()
	s.origin = o
	s.mu.Unlock()
}

// encoderName says which implementation enc runs on and why any preferred
// one was passed over (h264.Encoder's Choice), or "" when it cannot say.
func encoderName(enc Encoder) string {
	if c, ok := enc.(interface{ Choice() h264.Choice }); ok {
		return c.Choice().String()
	}
	return ""
}

// setEncoder records the stream's encoder and tells the technician's
// browser (the session's stats); the control channel's opening tells it
// too, whichever comes last.
func (s *session) setEncoder(name string) {
	if name == "" {
		return
	}
	s.mu.Lock()
	s.encoder = name
	s.mu.Unlock()
	s.h.cfg.Logger.Info("screen encoder", "encoder", name)
	s.sendEncoder()
}

// sendEncoder sends the recorded encoder, if any, on the control channel.
func (s *session) sendEncoder() {
	s.mu.Lock()
	name := s.encoder
	s.mu.Unlock()
	if name != "" {
		s.sendControl(wire.ControlMessage{Type: "encoder", Encoder: name})
	}
}
