package h264

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// backend is one OpenH264 encoder instance: linked with cgo
// (encoder_openh264.go) or loaded at run time without cgo
// (encoder_wels.go). Its methods are called with Encoder.mu held.
type backend interface {
	// encode converts one BGRA frame to I420 and encodes it at ts (ms),
	// as an IDR if idr. It returns OpenH264's frame type and the access
	// unit in a new slice (nil when skipped).
	encode(pix []byte, stride int, idr bool, ts int64) (frameType int, au []byte, err error)
	// setBitrate moves target and peak from old to bps.
	setBitrate(old, bps int) error
	// choice says which implementation this is, and why any preferred
	// one was passed over.
	choice() Choice
	close()
}

// OpenH264's EVideoFrameType values that Encode tells apart.
const (
	frameInvalid = 0
	frameSkip    = 4
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

// openBackend makes a backend for o; nil in builds without an encoder.
// Tests replace it to run the same checks on another backend.
var openBackend = defaultBackend

// Encoder is an H.264 encoder fed with BGRA frames, running on the
// implementation chosen when it was made (Choice). See the package doc for
// the threading rules.
type Encoder struct {
	opts    Options
	tuning  tuning
	pending atomic.Int64 // bitrate from SetBitrate not yet applied; 0 = none
	content atomic.Int64 // Content from SetContent, applied by Encode
	open    atomic.Bool  // between NewEncoder and Close, for SetBitrate

	mu       sync.Mutex // serialises Encode and Close; guards the fields below
	b        backend    // nil after Close
	cleanup  runtime.Cleanup
	clock    func() time.Time // frame timestamps; tests replace it
	start    time.Time        // clock at the first frame
	bitrate  int              // target currently applied
	forceIDR bool             // an IDR was requested but its frame was skipped
	stream   streamState      // what Repeat needs to know of the output
}

// NewEncoder creates an encoder for o on the first usable implementation
// (Media Foundation on Windows, else OpenH264; see Choice). Options outside the
// documented limits are rejected with an error wrapping ErrInvalidOptions;
// a build or machine without OpenH264 gets an error wrapping
// ErrUnsupported.
func NewEncoder(o Options) (*Encoder, error) {
	return newEncoder(o, defaultTuning)
}

func newEncoder(o Options, t tuning) (*Encoder, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("h264.NewEncoder: %w", err)
	}
	if openBackend == nil {
		return nil, fmt.Errorf("h264.NewEncoder: %w", ErrUnsupported)
	}
	b, err := openBackend(o, t)
	if err != nil {
		return nil, fmt.Errorf("h264.NewEncoder: %w", err)
	}
	e := &Encoder{opts: o, tuning: t, b: b, clock: time.Now, bitrate: o.Bitrate}
	e.content.Store(int64(o.Content))
	e.watch(b)
	e.open.Store(true)
	return e, nil
}

// watch makes a forgotten Close release b; Close and applyContent cancel it.
func (e *Encoder) watch(b backend) {
	e.cleanup = runtime.AddCleanup(e, func(b backend) { b.close() }, b)
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
	if e.b == nil {
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
	ts := 1 + now.Sub(e.start).Milliseconds()
	ftype, au, err := e.b.encode(pix, stride, keyframe, ts)
	if err != nil {
		return nil, fmt.Errorf("h264.Encode: %w", err)
	}
	switch {
	case ftype == frameInvalid:
		return nil, fmt.Errorf("h264.Encode: no valid frame")
	case ftype == frameSkip || len(au) == 0:
		e.forceIDR = keyframe
		return nil, nil
	}
	e.forceIDR = false
	e.stream.observe(au) //nolint:errcheck // an error only disables Repeat until the next IDR
	return au, nil
}

// Choice says which implementation the encoder runs on and why any
// preferred one was passed over, for the session's report.
func (e *Encoder) Choice() Choice {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.b == nil {
		return Choice{}
	}
	return e.b.choice()
}

// Repeat returns an access unit that shows the last encoded picture again,
// without encoding (see repeat.go): a few bytes and microseconds, for a
// still screen. It fails with ErrNoRepeat when it cannot (before the first
// picture, or a stream it does not understand); encode the frame instead.
func (e *Encoder) Repeat() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.b == nil {
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

// applyBitrate hands a pending SetBitrate to the backend. Called with mu
// held.
func (e *Encoder) applyBitrate() error {
	bps := int(e.pending.Swap(0))
	if bps == 0 || bps == e.bitrate {
		return nil
	}
	if err := e.b.setBitrate(e.bitrate, bps); err != nil {
		return fmt.Errorf("setting bitrate %d: %w", bps, err)
	}
	e.bitrate = bps
	return nil
}

// SetContent switches what the encoder is tuned for. It may be called from
// any goroutine and takes effect on the next Encode, which then starts a
// new stream: OpenH264 cannot change its usage type in place, so the
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

// applyContent remakes the backend when SetContent asked for other
// content, reporting whether it did (the frame must then be an IDR).
// Called with mu held.
func (e *Encoder) applyContent() (bool, error) {
	want := Content(e.content.Load())
	if want == e.opts.Content {
		return false, nil
	}
	o := e.opts
	o.Content, o.Bitrate = want, e.bitrate
	b, err := openBackend(o, e.tuning)
	if err != nil {
		return false, fmt.Errorf("switching to %v: %w", want, err)
	}
	e.cleanup.Stop()
	e.b.close()
	e.b, e.opts, e.stream = b, o, streamState{}
	e.watch(b)
	return true, nil
}

// Close releases the encoder. It waits for an Encode in progress, is
// idempotent, and makes later Encode and SetBitrate calls fail with
// ErrClosed.
func (e *Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.b == nil {
		return nil
	}
	e.open.Store(false)
	e.cleanup.Stop()
	e.b.close()
	e.b = nil
	return nil
}
