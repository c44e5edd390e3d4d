//go:build cgo && (linux || darwin) && !noopenh264

package h264

/*
#cgo pkg-config: openh264
#cgo LDFLAGS: -lyuv
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <wels/codec_api.h>
#include <libyuv/convert_from_argb.h>

// pd_enc is everything the encoder owns in C memory, so that no Go pointer
// is ever stored on the C side. One per Encoder; the Go side serialises use.
typedef struct {
	ISVCEncoder *enc;
	int width, height;
	unsigned char *yuv;       // reused I420 picture: Y, then U, then V
	SSourcePicture pic;       // points into yuv
	SFrameBSInfo info;        // output of the last EncodeFrame
	pthread_mutex_t mu;       // guards msg: OpenH264 logs from its worker threads
	char msg[256];            // last error OpenH264 logged
} pd_enc;

static void pd_trace(void *ctx, int level, const char *s) {
	pd_enc *e = ctx;
	if (level > WELS_LOG_ERROR) return;
	pthread_mutex_lock(&e->mu);
	snprintf(e->msg, sizeof e->msg, "%s", s);
	pthread_mutex_unlock(&e->mu);
}

static void pd_lastmsg(pd_enc *e, char *dst, int n) {
	pthread_mutex_lock(&e->mu);
	snprintf(dst, n, "%s", e->msg);
	e->msg[0] = 0;
	pthread_mutex_unlock(&e->mu);
}

static void pd_close(pd_enc *e) {
	if (e->enc) {
		(*e->enc)->Uninitialize(e->enc);
		WelsDestroySVCEncoder(e->enc);
	}
	free(e->yuv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static int pd_set_bitrate(pd_enc *e, int bps, int maxbps) {
	SBitrateInfo target = { SPATIAL_LAYER_ALL, bps };
	SBitrateInfo peak = { SPATIAL_LAYER_ALL, maxbps };
	// OpenH264 rejects a target above the peak, so move the peak first when
	// raising and last when lowering.
	int rc;
	if ((rc = (*e->enc)->SetOption(e->enc, ENCODER_OPTION_MAX_BITRATE, &peak)) != 0) return rc;
	if ((rc = (*e->enc)->SetOption(e->enc, ENCODER_OPTION_BITRATE, &target)) != 0) return rc;
	return (*e->enc)->SetOption(e->enc, ENCODER_OPTION_MAX_BITRATE, &peak);
}

// pd_open creates and initialises an encoder. On failure *out is still set
// (when allocation succeeded) so the caller can read the message, then
// pd_close it.
static int pd_open(pd_enc **out, int w, int h, int fps, int bps, int maxbps,
                   int keyint, int threads, int slices, int complexity) {
	*out = NULL;
	pd_enc *e = calloc(1, sizeof *e);
	if (!e) return cmMallocMemeError;
	pthread_mutex_init(&e->mu, NULL);
	*out = e;
	e->width = w;
	e->height = h;
	e->yuv = malloc((size_t)w * h + 2 * (size_t)(w / 2) * (h / 2));
	if (!e->yuv) return cmMallocMemeError;
	if (WelsCreateSVCEncoder(&e->enc) != 0 || !e->enc) {
		e->enc = NULL;
		return cmMallocMemeError;
	}

	// Route OpenH264's log into msg instead of stderr; errors only.
	void *ctx = e;
	WelsTraceCallback cb = pd_trace;
	int level = WELS_LOG_ERROR;
	(*e->enc)->SetOption(e->enc, ENCODER_OPTION_TRACE_CALLBACK_CONTEXT, &ctx);
	(*e->enc)->SetOption(e->enc, ENCODER_OPTION_TRACE_CALLBACK, &cb);
	(*e->enc)->SetOption(e->enc, ENCODER_OPTION_TRACE_LEVEL, &level);

	SEncParamExt p;
	(*e->enc)->GetDefaultParams(e->enc, &p);
	p.iUsageType = SCREEN_CONTENT_REAL_TIME;
	p.iPicWidth = w;
	p.iPicHeight = h;
	p.iTargetBitrate = bps;
	p.iMaxBitrate = maxbps;
	p.iRCMode = RC_BITRATE_MODE;
	p.fMaxFrameRate = (float)fps;
	p.bEnableFrameSkip = true;
	p.iTemporalLayerNum = 1;
	p.iSpatialLayerNum = 1;
	p.iComplexityMode = (ECOMPLEXITY_MODE)complexity;
	p.uiIntraPeriod = (unsigned int)keyint;
	p.eSpsPpsIdStrategy = CONSTANT_ID;
	p.bPrefixNalAddingCtrl = false;
	p.bEnableSSEI = false;
	p.bSimulcastAVC = false;
	p.iPaddingFlag = 0;
	p.iEntropyCodingModeFlag = 0; // CAVLC: baseline has no CABAC
	p.bEnableLongTermReference = false;
	p.iMultipleThreadIdc = (unsigned short)threads;
	p.bUseLoadBalancing = false;
	p.bEnableDenoise = false;            // would smear text
	p.bEnableBackgroundDetection = true;
	p.bEnableAdaptiveQuant = false;      // unsupported for screen content
	p.bEnableSceneChangeDetect = true;   // required for screen content
	p.bEnableFrameCroppingFlag = true;   // 1080 is not a multiple of 16

	SSpatialLayerConfig *l = &p.sSpatialLayers[0];
	l->iVideoWidth = w;
	l->iVideoHeight = h;
	l->fFrameRate = (float)fps;
	l->iSpatialBitrate = bps;
	l->iMaxSpatialBitrate = maxbps;
	l->uiProfileIdc = PRO_BASELINE;
	l->uiLevelIdc = LEVEL_UNKNOWN; // derived from size, rate and bitrate
	if (slices > 1) {
		l->sSliceArgument.uiSliceMode = SM_FIXEDSLCNUM_SLICE;
		l->sSliceArgument.uiSliceNum = (unsigned int)slices;
	} else {
		l->sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
		l->sSliceArgument.uiSliceNum = 1;
	}

	int rc = (*e->enc)->InitializeExt(e->enc, &p);
	if (rc != 0) return rc;

	e->pic.iColorFormat = videoFormatI420;
	e->pic.iPicWidth = w;
	e->pic.iPicHeight = h;
	e->pic.iStride[0] = w;
	e->pic.iStride[1] = w / 2;
	e->pic.iStride[2] = w / 2;
	e->pic.pData[0] = e->yuv;
	e->pic.pData[1] = e->yuv + (size_t)w * h;
	e->pic.pData[2] = e->pic.pData[1] + (size_t)(w / 2) * (h / 2);
	return 0;
}

// pd_encode converts one BGRA frame into the I420 buffer and encodes it.
// It returns 0 or an OpenH264 status (-1: libyuv failed) and reports the
// frame type and the access unit's size; pd_copy then fetches the bytes.
static int pd_encode(pd_enc *e, const unsigned char *bgra, int stride,
                     int idr, long long ts, int *ftype, int *size) {
	SSourcePicture *p = &e->pic;
	if (ARGBToI420(bgra, stride, p->pData[0], p->iStride[0], p->pData[1], p->iStride[1],
	               p->pData[2], p->iStride[2], e->width, e->height) != 0) return -1;
	int rc;
	if (idr && (rc = (*e->enc)->ForceIntraFrame(e->enc, true)) != 0) return rc;
	p->uiTimeStamp = ts;
	memset(&e->info, 0, sizeof e->info);
	if ((rc = (*e->enc)->EncodeFrame(e->enc, p, &e->info)) != 0) return rc;
	*ftype = e->info.eFrameType;
	*size = e->info.iFrameSizeInBytes;
	return 0;
}

// pd_copy copies the last access unit (every layer's NAL units, each with
// its Annex-B start code) into dst; it returns the bytes copied or -1.
static int pd_copy(pd_enc *e, unsigned char *dst, int n) {
	int off = 0;
	for (int i = 0; i < e->info.iLayerNum; i++) {
		SLayerBSInfo *l = &e->info.sLayerInfo[i];
		int sz = 0;
		for (int j = 0; j < l->iNalCount; j++) sz += l->pNalLengthInByte[j];
		if (sz > n - off) return -1;
		memcpy(dst + off, l->pBsBuf, sz);
		off += sz;
	}
	return off;
}

static int pd_bgra_to_i420(const unsigned char *bgra, int stride, unsigned char *dst, int w, int h) {
	unsigned char *u = dst + (size_t)w * h, *v = u + (size_t)(w / 2) * (h / 2);
	return ARGBToI420(bgra, stride, dst, w, u, w / 2, v, w / 2, w, h);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// tuning holds the encoder knobs that are not part of Options. defaultTuning
// is what NewEncoder uses; tests and benchmarks compare alternatives.
type tuning struct {
	threads    int // iMultipleThreadIdc: 1 = no worker threads
	slices     int // slices per picture; more than one is needed for threads to help
	complexity int // ECOMPLEXITY_MODE: 0 low, 1 medium, 2 high
	peakPct    int // iMaxBitrate as a percentage of the target
}

var defaultTuning = tuning{threads: 1, slices: 1, complexity: 0, peakPct: 150}

// Encoder is an OpenH264 encoder fed with BGRA frames. See the package doc
// for the threading rules.
type Encoder struct {
	opts    Options
	tune    tuning
	pending atomic.Int64 // bitrate set by SetBitrate, not yet applied; 0 = none

	mu       sync.Mutex // serialises Encode and Close; guards the fields below
	c        *C.pd_enc  // nil before NewEncoder and after Close
	cleanup  runtime.Cleanup
	frame    int64 // frames submitted, for the nominal timestamp
	bitrate  int   // target currently applied
	forceIDR bool  // an IDR was requested but the frame was skipped
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
	var c *C.pd_enc
	rc := C.pd_open(&c, C.int(o.Width), C.int(o.Height), C.int(o.FPS), C.int(o.Bitrate),
		C.int(peak(o.Bitrate, t)), C.int(o.KeyInterval), C.int(t.threads), C.int(t.slices),
		C.int(t.complexity))
	if rc != 0 {
		err := fmt.Errorf("h264.NewEncoder: OpenH264 initialisation failed: %w", statusError(c, rc))
		if c != nil {
			C.pd_close(c)
		}
		return nil, err
	}
	e := &Encoder{opts: o, tune: t, c: c, bitrate: o.Bitrate}
	// A forgotten Close must not leak the C encoder; Close stops this.
	e.cleanup = runtime.AddCleanup(e, func(c *C.pd_enc) { C.pd_close(c) }, c)
	return e, nil
}

// Encode converts one BGRA frame and encodes it. pix holds at least Height
// rows of stride bytes (the last row needs only Width*4); only the top-left
// Width x Height pixels are read. The result is one access unit as Annex-B
// NAL units with 4-byte start codes, in memory owned by the caller. keyframe
// forces an IDR preceded by SPS and PPS. A nil result with a nil error means
// the rate controller skipped the frame: send nothing and let the next
// sample carry the elapsed duration. A forced keyframe that is skipped is
// forced again on the next call.
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
	if err := e.applyBitrate(); err != nil {
		return nil, fmt.Errorf("h264.Encode: %w", err)
	}
	keyframe = keyframe || e.forceIDR
	ts := C.longlong(e.frame * 1000 / int64(e.opts.FPS))
	e.frame++
	var ftype, size C.int
	rc := C.pd_encode(e.c, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(stride), cBool(keyframe), ts, &ftype, &size)
	if rc != 0 {
		return nil, fmt.Errorf("h264.Encode: %w", statusError(e.c, rc))
	}
	switch ftype {
	case C.videoFrameTypeSkip:
		e.forceIDR = keyframe
		return nil, nil
	case C.videoFrameTypeInvalid:
		return nil, fmt.Errorf("h264.Encode: OpenH264 produced no valid frame: %w", statusError(e.c, C.cmUnknownReason))
	}
	e.forceIDR = false
	if size <= 0 {
		return nil, nil
	}
	au := make([]byte, int(size))
	if n := C.pd_copy(e.c, (*C.uchar)(unsafe.Pointer(&au[0])), size); n != size {
		return nil, fmt.Errorf("h264.Encode: access unit is %d bytes, layers hold %d", int(size), int(n))
	}
	return au, nil
}

// SetBitrate changes the target bitrate, in bits per second. It may be
// called from any goroutine, never blocks on an Encode in progress, and
// takes effect on the next frame.
func (e *Encoder) SetBitrate(bps int) error {
	if err := validBitrate(bps); err != nil {
		return fmt.Errorf("h264.SetBitrate: %w", err)
	}
	e.mu.Lock()
	closed := e.c == nil
	e.mu.Unlock()
	if closed {
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
	if rc := C.pd_set_bitrate(e.c, C.int(bps), C.int(peak(bps, e.tune))); rc != 0 {
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
	e.cleanup.Stop()
	C.pd_close(e.c)
	e.c = nil
	return nil
}

// peak is the iMaxBitrate that goes with target bps.
func peak(bps int, t tuning) int {
	return int(int64(bps) * int64(t.peakPct) / 100)
}

// statusError describes an OpenH264 status code with the last error message
// OpenH264 logged, if any.
func statusError(c *C.pd_enc, rc C.int) error {
	var msg string
	if c != nil {
		var buf [256]byte
		C.pd_lastmsg(c, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)))
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
// strides w and w/2) with the same libyuv call Encode uses.
func bgraToI420(dst, pix []byte, stride, w, h int) error {
	if len(dst) < w*h+2*(w/2)*(h/2) || stride < w*4 || len(pix) < stride*(h-1)+w*4 {
		return fmt.Errorf("h264.bgraToI420: %w", ErrBadFrame)
	}
	if C.pd_bgra_to_i420((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(stride),
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
