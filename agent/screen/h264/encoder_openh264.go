//go:build cgo && (linux || darwin) && !noopenh264

package h264

/*
#cgo pkg-config: openh264
#cgo LDFLAGS: -lyuv
#include "openh264_shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// tuning holds the encoder knobs that are not part of Options. NewEncoder
// uses defaultTuning; benchmarks compare alternatives.
type tuning struct {
	threads    int // iMultipleThreadIdc: 1 = encode on the calling thread only
	slices     int // slices per picture; threads only help with as many slices
	complexity int // ECOMPLEXITY_MODE: 0 low, 1 medium, 2 high
}

// defaultTuning: see the package doc and the Encode benchmarks for why.
var defaultTuning = tuning{threads: 1, slices: 1, complexity: 0}

// Encoder is an OpenH264 encoder fed with BGRA frames. See the package doc
// for the threading rules.
type Encoder struct {
	opts    Options
	tuning  tuning
	pending atomic.Int64 // bitrate from SetBitrate not yet applied; 0 = none
	content atomic.Int64 // Content from SetContent, applied by Encode
	open    atomic.Bool  // between NewEncoder and Close, for SetBitrate

	mu       sync.Mutex    // serialises Encode and Close; guards the fields below
	c        *C.pdh264_enc // nil before NewEncoder and after Close
	cleanup  runtime.Cleanup
	clock    func() time.Time // frame timestamps; tests replace it
	start    time.Time        // clock at the first frame
	bitrate  int              // target currently applied
	forceIDR bool             // an IDR was requested but its frame was skipped
	stream   streamState      // what Repeat needs to know of the output
}

// NewEncoder creates an OpenH264 encoder for o. Options outside the
// documented limits are rejected with an error wrapping ErrInvalidOptions.
func NewEncoder(o Options) (*Encoder, error) {
	return newEncoder(o, defaultTuning)
}

func newEncoder(o Options, t tuning) (*Encoder, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("h264.NewEncoder: %w", err)
	}
	c, err := openC(o, t)
	if err != nil {
		return nil, fmt.Errorf("h264.NewEncoder: %w", err)
	}
	e := &Encoder{opts: o, tuning: t, c: c, clock: time.Now, bitrate: o.Bitrate}
	e.content.Store(int64(o.Content))
	// A forgotten Close must not leak the C encoder; Close cancels this.
	e.cleanup = runtime.AddCleanup(e, func(c *C.pdh264_enc) { C.pdh264_close(c) }, c)
	e.open.Store(true)
	return e, nil
}

// openC creates and initialises the C encoder for o.
func openC(o Options, t tuning) (*C.pdh264_enc, error) {
	var c *C.pdh264_enc
	rc := C.pdh264_open(&c, C.int(o.Width), C.int(o.Height), C.int(o.FPS), C.int(o.Bitrate),
		C.int(o.KeyInterval), C.int(t.threads), C.int(t.slices), C.int(t.complexity), cBool(o.Content == Camera))
	if rc != 0 {
		err := fmt.Errorf("OpenH264 initialisation: %w", statusError(c, rc))
		if c != nil {
			C.pdh264_close(c)
		}
		return nil, err
	}
	return c, nil
}

// SetContent switches what the encoder is tuned for. It may be called from
// any goroutine and takes effect on the next Encode, which then starts a
// new stream: OpenH264 cannot change its usage type in place, so the C
// encoder is made again at the current bitrate and the frame is an IDR
// with new parameter sets (at 1080p ~40 KB and ~30 ms, so switch seldom).
func (e *Encoder) SetContent(c Content) error {
	if c != Screen && c != Camera {
		return fmt.Errorf("h264.SetContent: %w: %v", ErrInvalidOptions, c)
	}
	if !e.open.Load() {
		return fmt.Errorf("h264.SetContent: %w", ErrClosed)
	}
	e.content.Store(int64(c))
	return nil
}

// Content reports what the last Encode was tuned for.
func (e *Encoder) Content() Content {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.opts.Content
}

// applyContent remakes the C encoder when SetContent asked for other
// content, reporting whether it did (the frame must then be an IDR).
// Called with mu held.
func (e *Encoder) applyContent() (bool, error) {
	want := Content(e.content.Load())
	if want == e.opts.Content {
		return false, nil
	}
	o := e.opts
	o.Content, o.Bitrate = want, e.bitrate
	c, err := openC(o, e.tuning)
	if err != nil {
		return false, fmt.Errorf("switching to %v: %w", want, err)
	}
	e.cleanup.Stop()
	C.pdh264_close(e.c)
	e.c, e.opts, e.stream = c, o, streamState{}
	e.cleanup = runtime.AddCleanup(e, func(c *C.pdh264_enc) { C.pdh264_close(c) }, c)
	return true, nil
}

// Encode converts one BGRA frame and encodes it. pix holds at least Height
// rows of stride bytes (the last row needs only Width*4); only the top-left
// Width x Height pixels are read, and only during the call. The result is
// one access unit as Annex-B NAL units with 4-byte start codes, in memory
// the caller owns. keyframe forces an IDR, preceded by SPS and PPS. A nil
// result with a nil error means the rate controller skipped the frame: send
// nothing and let the next sample carry the elapsed time. A forced keyframe
// whose frame is skipped is forced again on the next call.
func (e *Encoder) Encode(pix []byte, stride int, keyframe bool) ([]byte, error) {
	w, h := e.opts.Width, e.opts.Height
	if stride < w*4 || len(pix) < stride*(h-1)+w*4 {
		return nil, fmt.Errorf("h264.Encode: %w: %d bytes with stride %d for %dx%d",
			ErrBadFrame, len(pix), stride, w, h)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c == nil {
		return nil, fmt.Errorf("h264.Encode: %w", ErrClosed)
	}
	switched, err := e.applyContent()
	if err != nil {
		return nil, fmt.Errorf("h264.Encode: %w", err)
	}
	if err := e.applyBitrate(); err != nil {
		return nil, fmt.Errorf("h264.Encode: %w", err)
	}
	keyframe = keyframe || e.forceIDR || switched
	now := e.clock()
	if e.start.IsZero() {
		e.start = now
	}
	// The rate controller drains its buffer by the time between frames, so
	// timestamps are real time (ms). 0 means "no previous frame" to it.
	ts := C.longlong(1 + now.Sub(e.start).Milliseconds())
	var ftype, size C.int
	rc := C.pdh264_encode(e.c, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(stride), cBool(keyframe), ts, &ftype, &size)
	if rc != 0 {
		return nil, fmt.Errorf("h264.Encode: %w", statusError(e.c, rc))
	}
	switch {
	case ftype == C.videoFrameTypeInvalid:
		return nil, fmt.Errorf("h264.Encode: no valid frame: %w", statusError(e.c, C.cmUnknownReason))
	case ftype == C.videoFrameTypeSkip || size <= 0:
		e.forceIDR = keyframe
		return nil, nil
	}
	e.forceIDR = false
	au := make([]byte, int(size))
	if n := C.pdh264_copy(e.c, (*C.uchar)(unsafe.Pointer(&au[0])), size); n != size {
		return nil, fmt.Errorf("h264.Encode: access unit of %d bytes, layers hold %d", int(size), int(n))
	}
	e.stream.observe(au) //nolint:errcheck // an error only disables Repeat until the next IDR
	return au, nil
}

// Repeat returns an access unit that shows the last encoded picture again,
// without encoding (see repeat.go): a few bytes and microseconds, for a
// still screen. It fails with ErrNoRepeat when it cannot (before the first
// picture, or a stream it does not understand); encode the frame instead.
func (e *Encoder) Repeat() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c == nil {
		return nil, fmt.Errorf("h264.Repeat: %w", ErrClosed)
	}
	return e.stream.repeat()
}

// SetBitrate changes the target bitrate, in bits per second. It may be
// called from any goroutine, does not wait for an Encode in progress, and
// takes effect on the next frame.
func (e *Encoder) SetBitrate(bps int) error {
	if err := validBitrate(bps); err != nil {
		return fmt.Errorf("h264.SetBitrate: %w", err)
	}
	if !e.open.Load() {
		return fmt.Errorf("h264.SetBitrate: %w", ErrClosed)
	}
	e.pending.Store(int64(bps))
	return nil
}

// applyBitrate hands a pending SetBitrate to OpenH264. Called with mu held.
func (e *Encoder) applyBitrate() error {
	bps := int(e.pending.Swap(0))
	if bps == 0 || bps == e.bitrate {
		return nil
	}
	if rc := C.pdh264_set_bitrate(e.c, C.int(e.bitrate), C.int(bps)); rc != 0 {
		return fmt.Errorf("setting bitrate %d: %w", bps, statusError(e.c, rc))
	}
	e.bitrate = bps
	return nil
}

// Close releases the C encoder. It waits for an Encode in progress, is
// idempotent, and makes later Encode and SetBitrate calls fail with
// ErrClosed.
func (e *Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c == nil {
		return nil
	}
	e.open.Store(false)
	e.cleanup.Stop()
	C.pdh264_close(e.c)
	e.c = nil
	return nil
}

// statusError describes an OpenH264 status code, with the last error
// OpenH264 logged if there is one.
func statusError(c *C.pdh264_enc, rc C.int) error {
	var msg string
	if c != nil {
		var buf [256]byte
		C.pdh264_lastmsg(c, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)))
		msg = strings.TrimSpace(C.GoString((*C.char)(unsafe.Pointer(&buf[0]))))
	}
	var name string
	switch rc {
	case -1:
		name = "libyuv ARGBToI420 failed"
	case C.cmInitParaError:
		name = "invalid parameters"
	case C.cmMallocMemeError:
		name = "out of memory"
	case C.cmInitExpected:
		name = "not initialised"
	case C.cmUnsupportedData:
		name = "unsupported data"
	default:
		name = fmt.Sprintf("status %d", int(rc))
	}
	if msg != "" {
		return fmt.Errorf("%s (OpenH264: %s)", name, msg)
	}
	return fmt.Errorf("%s", name)
}

// bgraToI420 converts a BGRA frame into dst (I420: Y, then U, then V, with
// strides w and w/2) with the libyuv call Encode uses.
func bgraToI420(dst, pix []byte, stride, w, h int) error {
	if len(dst) < w*h+2*(w/2)*(h/2) || stride < w*4 || len(pix) < stride*(h-1)+w*4 {
		return fmt.Errorf("h264.bgraToI420: %w", ErrBadFrame)
	}
	if C.pdh264_bgra_to_i420((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(stride),
		(*C.uchar)(unsafe.Pointer(&dst[0])), C.int(w), C.int(h)) != 0 {
		return fmt.Errorf("h264.bgraToI420: libyuv ARGBToI420 failed")
	}
	return nil
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
