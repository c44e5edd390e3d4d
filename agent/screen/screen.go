// Package screen is the agent capability that streams the screen to a
// technician's browser and takes their mouse and keyboard (R1).
//
// The browser and the agent run one WebRTC session end to end: the viewer
// forwards the browser's SDP offer over the overlay (POST /v1/screen/offer,
// behind the agent's gate), and this package answers it. The agent's ICE
// runs on the overlay only (package overlaynet): its one candidate is its
// overlay address, reached through the TURN relay inside the technician's
// viewer. Media is H.264, encoded frame by frame as the screen changes:
// capture is driven by damage and starts with the session, so an idle
// screen sends nothing and nothing is captured between sessions.
//
// Keyframes are sent when the browser asks (PLI/FIR) or the monitor
// changes; the bitrate follows the send-side congestion controller (GCC,
// transport-wide feedback). Mouse moves arrive on an unordered channel
// without retransmission, everything else on an ordered reliable one, and
// press and release are applied separately. Input is applied only if the
// grant includes the input capability; otherwise the session is view-only.
//
// Before any of it, the end user is asked (Consent), unless the agent was
// configured for unattended access — which one-time support agents never
// are.
package screen

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen/h264"
	"github.com/peerdesk/peerdesk/wire"
	"github.com/pion/transport/v4"
)

// Frame is one captured frame in BGRA.
type Frame struct {
	Width, Height, Stride int
	Pix                   []byte
	Time                  time.Time
}

// Source captures the screen (package capture).
type Source interface {
	Monitors() ([]wire.Monitor, error)
	Select(index int) error
	Next(ctx context.Context) (Frame, error) // waits for damage
	Grab() (Frame, error)                    // now, changed or not
	Close() error
}

// Encoder turns frames into H.264 access units (package h264).
type Encoder interface {
	Encode(pix []byte, stride int, keyframe bool) ([]byte, error)
	// Repeat shows the last encoded picture again without encoding it;
	// an error means encode the frame instead.
	Repeat() ([]byte, error)
	SetBitrate(bps int) error
	// SetContent switches the coding tools from the next frame on (an
	// IDR); see contentPolicy.
	SetContent(c h264.Content) error
	Close() error
}

// Injector applies input (package input).
type Injector interface {
	Apply(ev wire.InputEvent, origin image.Point) error
	CtrlAltDel() error
	ReleaseAll() error
}

// ConsentRequest is what the end user is asked.
type ConsentRequest struct {
	Technician   string
	Capabilities []wire.Capability
}

// Consent is the end user's side of a session (package consent).
type Consent interface {
	// Ask blocks until the end user allows or denies, or ctx ends.
	Ask(ctx context.Context, r ConsentRequest) (bool, error)
	// Connected shows who is watching; end lets the user stop it.
	Connected(technician string, end func())
	// Disconnected clears the indicator.
	Disconnected(reason string)
}

// Config wires a Handler.
type Config struct {
	Net        transport.Net          // the overlay, for ICE
	OpenSource func() (Source, error) // opened per session
	NewEncoder func(width, height, fps, bitrate int) (Encoder, error)
	Input      func() (Injector, error) // nil: view only
	Consent    Consent                  // nil: unattended, nobody is asked
	OnEnd      func(reason string)      // after a session ended
	FPS        int                      // 0 means 30
	Bitrate    BitrateRange             // zero means the defaults
	Coding     Coding                   // the encoder's tuning; zero chooses by the path
	Logger     *slog.Logger
}

// BitrateRange bounds the congestion controller's target (bits/s).
type BitrateRange struct{ Start, Min, Max int }

// Errors; test with errors.Is.
var (
	ErrBusy          = errors.New("screen: another technician's session is live")
	ErrConsentDenied = errors.New("screen: the user declined")
)

func (c *Config) defaults() {
	if c.FPS == 0 {
		c.FPS = 30
	}
	if c.Bitrate.Start == 0 {
		c.Bitrate = BitrateRange{Start: 8_000_000, Min: 150_000, Max: 16_000_000}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
