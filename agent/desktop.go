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
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/overlaynet"
)

// screenHandler wires the screen capability to this machine's display:
// capture (damage-driven), the H.264 encoder and input injection, with ICE
// on the overlay. Sessions ask consent (package consent).
func screenHandler(display string, withInput bool, n *node.Node, consent screen.Consent, onEnd func(string), log *slog.Logger) (*screen.Handler, error) {
	// PEERDESK_SCREEN_CODING=screen|camera fixes the encoder's tuning
	// (screen.Coding); the default chooses by the path.
	coding, err := screen.ParseCoding(os.Getenv("PEERDESK_SCREEN_CODING"))
	if err != nil {
		return nil, fmt.Errorf("PEERDESK_SCREEN_CODING: %w", err)
	}
	var inject func() (screen.Injector, error) // nil: view only
	if withInput {
		inject = func() (screen.Injector, error) { return input.New(display) }
	}
	onet, err := overlaynet.New(n)
	if err != nil {
		return nil, err
	}
	return screen.New(screen.Config{
		Net: onet,
		OpenSource: func() (screen.Source, error) {
			src, err := capture.Open(display)
			if err != nil {
				return nil, err
			}
			return source{src}, nil
		},
		NewEncoder: func(w, h, fps, bitrate int) (screen.Encoder, error) {
			// Odd sizes are cropped by a pixel: I420 needs even ones.
			return h264.NewEncoder(h264.Options{Width: w &^ 1, Height: h &^ 1, FPS: fps, Bitrate: bitrate})
		},
		Input:   inject,
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
