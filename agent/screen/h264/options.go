package h264

import (
	"errors"
	"fmt"
)

// Limits enforced by NewEncoder and SetBitrate. They are sanity bounds, not
// tuning: the encoder itself picks the H.264 level from the size, rate and
// bitrate it is given.
const (
	// MinBitrate and MaxBitrate bound Options.Bitrate and SetBitrate, in bits
	// per second. Below 10 kbit/s not even a static screen fits; above
	// 100 Mbit/s the number is a unit mistake (bytes, kbit) rather than a
	// link anyone shares a screen over.
	MinBitrate = 10_000
	MaxBitrate = 100_000_000

	// MaxFPS bounds Options.FPS.
	MaxFPS = 60

	// MinSize and MaxSize bound Options.Width and Options.Height, in pixels.
	MinSize = 16
	MaxSize = 8192

	// MaxMacroblocks bounds the picture area (16x16 blocks): H.264 level
	// 5.2's largest frame, e.g. 4096x2304 or 5120x1440.
	MaxMacroblocks = 36864

	// MaxKeyInterval bounds Options.KeyInterval, in frames.
	MaxKeyInterval = 1 << 16
)

var (
	// ErrUnsupported is returned by NewEncoder (wrapped, with the operation)
	// in builds that have no H.264 encoder: every build other than cgo on
	// Linux or macOS with OpenH264 and libyuv, and any build with the
	// noopenh264 tag. It matches errors.ErrUnsupported too.
	ErrUnsupported = fmt.Errorf("h264: no H.264 encoder in this build: %w", errors.ErrUnsupported)

	// ErrInvalidOptions is returned (wrapped, with the reason) by NewEncoder
	// for options outside the limits above and by SetBitrate for an
	// out-of-range bitrate.
	ErrInvalidOptions = errors.New("h264: invalid options")

	// ErrBadFrame is returned (wrapped) by Encode for a buffer or stride that
	// does not cover Width x Height BGRA pixels.
	ErrBadFrame = errors.New("h264: frame does not cover the picture")

	// ErrClosed is returned by Encode and SetBitrate after Close, and by an
	// Encoder that was not made by NewEncoder.
	ErrClosed = errors.New("h264: encoder closed")
)

// Options configures an Encoder. Every field is required except KeyInterval.
type Options struct {
	// Width and Height of the encoded picture, in pixels. Both must be even
	// (I420 halves them for chroma). A screen with an odd size is encoded by
	// passing Width&^1 and Height&^1: Encode reads only the top-left
	// Width x Height pixels of the frame it is given, so the extra column or
	// row is cropped.
	Width, Height int

	// FPS is the nominal frame rate, e.g. 30. The rate controller spreads
	// Bitrate over FPS frames per second; frames arriving more slowly (the
	// capturer sends only on damage) simply use less than the budget.
	FPS int

	// Bitrate is the initial target in bits per second; SetBitrate changes it.
	Bitrate int

	// KeyInterval is the number of frames between periodic IDR frames; 0
	// means keyframes only on request (the first frame is always one). With
	// RTCP PLI/FIR driving keyframes, 0 is the right choice.
	KeyInterval int

	// Content is what the encoder is tuned for; the zero value is Screen.
	// SetContent changes it.
	Content Content
}

// Content selects OpenH264's coding tools: a trade between bytes and CPU.
type Content int

const (
	// Screen is screen-content coding (SCREEN_CONTENT_REAL_TIME): scroll
	// detection and feature-based motion search find moved text and
	// windows, so a scrolling 1080p screen costs ~4 KB a frame; the search
	// preparation runs over the whole picture, ~14 ms a 1080p frame on a
	// 2-core EPYC whatever changed.
	Screen Content = iota
	// Camera is camera coding (CAMERA_VIDEO_REAL_TIME): about half the CPU
	// (~7 ms a 1080p frame) and 3-4x the bytes while scrolling; with
	// little bandwidth it drops most frames of a scrolling screen. For
	// links with bandwidth to spare.
	Camera
)

func (c Content) String() string {
	switch c {
	case Screen:
		return "screen"
	case Camera:
		return "camera"
	}
	return fmt.Sprintf("Content(%d)", int(c))
}

// validate reports whether o is within the limits above. The error wraps
// ErrInvalidOptions.
func (o Options) validate() error {
	switch {
	case o.Width < MinSize || o.Width > MaxSize || o.Height < MinSize || o.Height > MaxSize:
		return fmt.Errorf("%w: size %dx%d outside %d..%d", ErrInvalidOptions, o.Width, o.Height, MinSize, MaxSize)
	case o.Width%2 != 0 || o.Height%2 != 0:
		return fmt.Errorf("%w: size %dx%d is odd; pass Width&^1, Height&^1", ErrInvalidOptions, o.Width, o.Height)
	case ((o.Width+15)/16)*((o.Height+15)/16) > MaxMacroblocks:
		return fmt.Errorf("%w: size %dx%d exceeds H.264 level 5.2 (%d macroblocks)", ErrInvalidOptions, o.Width, o.Height, MaxMacroblocks)
	case o.FPS < 1 || o.FPS > MaxFPS:
		return fmt.Errorf("%w: FPS %d outside 1..%d", ErrInvalidOptions, o.FPS, MaxFPS)
	case o.KeyInterval < 0 || o.KeyInterval > MaxKeyInterval:
		return fmt.Errorf("%w: KeyInterval %d outside 0..%d", ErrInvalidOptions, o.KeyInterval, MaxKeyInterval)
	case o.Content != Screen && o.Content != Camera:
		return fmt.Errorf("%w: %v", ErrInvalidOptions, o.Content)
	}
	return validBitrate(o.Bitrate)
}

func validBitrate(bps int) error {
	if bps < MinBitrate || bps > MaxBitrate {
		return fmt.Errorf("%w: bitrate %d bit/s outside %d..%d", ErrInvalidOptions, bps, MinBitrate, MaxBitrate)
	}
	return nil
}
