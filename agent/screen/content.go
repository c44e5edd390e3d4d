package screen

import (
	"fmt"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen/h264"
)

// Choosing the encoder's tuning from the path.
//
// Screen-content coding finds scrolled text and moved windows and sends a
// scrolling 1080p screen in ~0.2–0.7 Mbit/s, but its search preparation
// costs ~14 ms a frame on this machine class: 40 % of a core at 30 fps.
// Camera coding costs half that and sends 2–3 Mbit/s for the same scroll
// (and up to its target for busier pictures). So a session starts coding
// for the screen (the path is unknown; the controller's 8 Mbit/s start is
// a guess) and codes for the camera only once the congestion controller
// has held a target with room to spare for a while (a LAN, the overlay
// between two machines of a shop): bytes are then cheap and the CPU is the
// user's. When the target falls, it codes for the screen again at once;
// each such fall doubles the wait before camera coding is tried again, so a
// path that cannot carry it is not flooded every few seconds. A switch
// costs an IDR.
const (
	cameraFrom   = 6_000_000 // target (bit/s) at or above which camera coding is used
	screenBelow  = 3_000_000 // target below which screen coding returns
	cameraAfter  = 5 * time.Second
	cameraAtMost = 5 * time.Minute // the longest wait after repeated falls
	// cameraMaxBitrate caps the encoder while it codes for the camera:
	// camera rate control spends its whole budget even on a still or
	// barely changing picture (8 KB a frame at 4 Mbit/s for one typed
	// glyph), and 8 Mbit/s is already sharp at 1080p30.
	cameraMaxBitrate = 8_000_000
)

// contentPolicy is one session's choice; the zero value codes for the
// screen.
type contentPolicy struct {
	cur   h264.Content
	high  time.Time     // since when the target has been at or above cameraFrom; zero if it is not
	after time.Duration // how long it must stay there; zero means cameraAfter
}

// pick returns the content to code for at now with the controller's
// target bps.
func (p *contentPolicy) pick(now time.Time, bps int) h264.Content {
	if p.after == 0 {
		p.after = cameraAfter
	}
	if bps < cameraFrom {
		p.high = time.Time{}
	} else if p.high.IsZero() {
		p.high = now
	}
	switch {
	case p.cur == h264.Camera && bps < screenBelow:
		p.cur = h264.Screen
		p.after = min(2*p.after, cameraAtMost)
	case p.cur == h264.Screen && !p.high.IsZero() && now.Sub(p.high) >= p.after:
		p.cur = h264.Camera
	}
	return p.cur
}

// Coding is how a Handler picks the encoder's tuning.
type Coding int

const (
	// CodingAuto chooses by the path, as contentPolicy describes.
	CodingAuto Coding = iota
	// CodingScreen always codes for screen content: the fewest bytes (a
	// metered or shared link), ~40 % of a core while a 1080p screen scrolls.
	CodingScreen
	// CodingCamera always codes for the camera: the least CPU, 2–3 Mbit/s
	// while a 1080p screen scrolls, and poor on a slow path.
	CodingCamera
)

// ParseCoding reads "auto" (or ""), "screen" or "camera".
func ParseCoding(s string) (Coding, error) {
	switch s {
	case "", "auto":
		return CodingAuto, nil
	case "screen":
		return CodingScreen, nil
	case "camera":
		return CodingCamera, nil
	}
	return 0, fmt.Errorf("screen coding %q: want auto, screen or camera", s)
}

// pick is the content to code for under c at now with target bps.
func (c Coding) pick(p *contentPolicy, now time.Time, bps int) h264.Content {
	switch c {
	case CodingScreen:
		return h264.Screen
	case CodingCamera:
		return h264.Camera
	}
	return p.pick(now, bps)
}
