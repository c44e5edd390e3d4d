package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/peerdesk/peerdesk/agent/input"
	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/agent/screen/capture"
	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/agent/sessionhelper"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/overlaynet"
)

// LocalDesktop is this process's own display: capture (damage-driven) and,
// unless viewOnly, input injection. The agent uses it directly, and the
// Windows screen helper serves it to the service (sessionhelper.Serve).
func LocalDesktop(display string, viewOnly bool) sessionhelper.Desktop {
	d := sessionhelper.Desktop{
		OpenSource: func() (screen.Source, error) {
			src, err := capture.Open(display)
			if err != nil {
				return nil, err
			}
			return source{src}, nil
		},
	}
	if !viewOnly {
		d.Input = func() (screen.Injector, error) { return input.New(display) }
	}
	return d
}

// screenHandler wires the screen capability to a desktop (this process's
// display, or the console session's through its screen helper), the H.264
// encoder and ICE on the overlay. Sessions ask consent (package consent).
func screenHandler(desk sessionhelper.Desktop, n *node.Node, consent screen.Consent, onEnd func(string), log *slog.Logger) (*screen.Handler, error) {
	// PEERDESK_SCREEN_CODING=screen|camera fixes the encoder's tuning
	// (screen.Coding); the default chooses by the path.
	coding, err := screen.ParseCoding(os.Getenv("PEERDESK_SCREEN_CODING"))
	if err != nil {
		return nil, fmt.Errorf("PEERDESK_SCREEN_CODING: %w", err)
	}
	onet, err := overlaynet.New(n)
	if err != nil {
		return nil, err
	}
	return screen.New(screen.Config{
		Net:        onet,
		OpenSource: desk.OpenSource,
		NewEncoder: func(w, h, fps, bitrate int) (screen.Encoder, error) {
			// Odd sizes are cropped by a pixel: I420 needs even ones.
			return h264.NewEncoder(h264.Options{Width: w &^ 1, Height: h &^ 1, FPS: fps, Bitrate: bitrate})
		},
		Input:   desk.Input,
		Consent: consent,
		OnEnd:   onEnd,
		Coding:  coding,
		Logger:  log.With("component", "screen"),
	}), nil
}

// source adapts a capture.Source to the screen package's view of it.
type source struct{ capture.Source }

func (s source) Next(ctx context.Context) (screen.Frame, error) {
	f, err := s.Source.Next(ctx)
	return frame(f), err
}

func (s source) Grab() (screen.Frame, error) {
	f, err := s.Source.Grab()
	return frame(f), err
}

func frame(f capture.Frame) screen.Frame {
	return screen.Frame{Width: f.Width, Height: f.Height, Stride: f.Stride, Pix: f.Pix, Time: f.Time}
}
