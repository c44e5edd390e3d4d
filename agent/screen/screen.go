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
// Before any of it, the end user is asked through package consent, for
// exactly what the session will use (screen, and input if the grant has it
// and the agent injects input), unless the machine's consent rules exempt
// it — which they never do on one-time support agents. The session runs
// under the lease consent gives: input events are applied only while the
// lease allows input, a technician who offers again with more (screen,
// then screen and input) is asked again, and the user's End ends it.
package screen

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"time"

	"github.com/peerdesk/peerdesk/agent/consent"
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

// Consent asks the end user (package consent): a session runs under the
// lease it returns, with at most the capabilities the lease allows.
type Consent interface {
	Acquire(ctx context.Context, r consent.Request) (*consent.Lease, error)
}

// Config wires a Handler.
type Config struct {
	Net        transport.Net          // the overlay, for ICE
	OpenSource func() (Source, error) // opened per session
	NewEncoder func(width, height, fps, bitrate int) (Encoder, error)
	Input      func() (Injector, error) // nil: view only
	Consent    Consent                  // nil: nobody is asked (consent with no rules)
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
	if c.Consent == nil {
		c.Consent = consent.New(consent.Config{Logger: c.Logger})
	}
}
