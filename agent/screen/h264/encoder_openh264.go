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
	"strings"
	"unsafe"
)

// defaultBackend links OpenH264 and libyuv through cgo.
var defaultBackend = openCgo

// cgoBackend is an OpenH264 encoder in C memory (openh264_shim.c).
type cgoBackend struct{ c *C.pdh264_enc }

func openCgo(o Options, t tuning) (backend, error) {
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
	return &cgoBackend{c: c}, nil
}

func (b *cgoBackend) encode(pix []byte, stride int, idr bool, ts int64) (int, []byte, error) {
	var ftype, size C.int
	rc := C.pdh264_encode(b.c, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(stride), cBool(idr), C.longlong(ts), &ftype, &size)
	if rc != 0 {
		return frameInvalid, nil, statusError(b.c, rc)
	}
	if ftype == C.videoFrameTypeInvalid {
		return frameInvalid, nil, statusError(b.c, C.cmUnknownReason)
	}
	if ftype == C.videoFrameTypeSkip || size <= 0 {
		return frameSkip, nil, nil
	}
	au := make([]byte, int(size))
	if n := C.pdh264_copy(b.c, (*C.uchar)(unsafe.Pointer(&au[0])), size); n != size {
		return frameInvalid, nil, fmt.Errorf("access unit of %d bytes, layers hold %d", int(size), int(n))
	}
	return int(ftype), au, nil
}

func (b *cgoBackend) setBitrate(old, bps int) error {
	if rc := C.pdh264_set_bitrate(b.c, C.int(old), C.int(bps)); rc != 0 {
		return statusError(b.c, rc)
	}
	return nil
}

// choice: the linked library, with its own version.
func (b *cgoBackend) choice() Choice {
	v := C.WelsGetCodecVersion()
	return Choice{Implementation: OpenH264, Detail: fmt.Sprintf("%d.%d.%d", v.uMajor, v.uMinor, v.uRevision)}
}

func (b *cgoBackend) close() { C.pdh264_close(b.c) }

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
