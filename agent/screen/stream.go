package screen

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/pion/interceptor/pkg/cc"
)

// stream captures, encodes and sends until the session ends. It grabs only
// when the screen changed (or a keyframe is needed), at most FPS times a
// second; between changes it sleeps in the capture's damage wait.
func (s *session) stream(src Source, bwe <-chan cc.BandwidthEstimator) {
	defer src.Close()
	log := s.h.cfg.Logger
	interval := time.Second / time.Duration(s.h.cfg.FPS)
	var (
		enc       Encoder
		encW      int
		encH      int
		lastSent  time.Time
		needKey   = true
		monitor   = -2
		estimator cc.BandwidthEstimator
		frames    int
	)
	defer func() {
		if enc != nil {
			enc.Close()
		}
	}()
	for s.ctx.Err() == nil {
		if estimator == nil {
			select {
			case estimator = <-bwe:
				estimator.OnTargetBitrateChange(func(bps int) { s.bitrate.Store(int64(bps)) })
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
		if needKey {
			f, err = src.Grab()
		} else {
			f, err = s.nextChange(src)
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
			encW, encH, needKey = f.Width, f.Height, true
		}
		if err := enc.SetBitrate(int(s.bitrate.Load())); err != nil {
			log.Debug("setting bitrate", "err", err)
		}
		au, err := enc.Encode(f.Pix, f.Stride, needKey)
		if err != nil {
			s.end("encoding failed: " + err.Error())
			return
		}
		if len(au) == 0 {
			continue // the rate controller skipped this frame
		}
		now := time.Now()
		d := interval
		if !lastSent.IsZero() {
			d = now.Sub(lastSent)
		}
		if err := s.track.WriteSample(sample(au, d)); err != nil {
			log.Debug("writing a sample", "err", err)
		}
		if frames++; frames == 1 || frames%300 == 0 {
			log.Debug("screen frames sent", "frames", frames, "bytes", len(au), "keyframe", needKey, "size", fmt.Sprintf("%dx%d", f.Width, f.Height))
		}
		lastSent, needKey = now, false
		// Pace to FPS: changes during the pause are collected by the next
		// damage wait and sent as one frame.
		if wait := interval - time.Since(now); wait > 0 {
			select {
			case <-s.ctx.Done():
			case <-time.After(wait):
			}
		}
	}
}

var errWake = errors.New("screen: woken")

// nextChange waits for damage, a keyframe request, a monitor switch or the
// end of the session, whichever comes first.
func (s *session) nextChange(src Source) (Frame, error) {
	ctx, cancel := context.WithCancel(s.ctx)
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
	cancel()
	<-woken
	if err != nil && s.ctx.Err() == nil && ctx.Err() != nil {
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
