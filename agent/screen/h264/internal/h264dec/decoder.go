//go:build cgo && (linux || darwin) && !noopenh264

package h264dec

/*
#cgo pkg-config: openh264
#include <stdbool.h>
#include <string.h>
#include <wels/codec_api.h>

static int pd_dec_open(ISVCDecoder **out) {
	*out = NULL;
	if (WelsCreateDecoder(out) != 0 || !*out) return cmMallocMemeError;
	ISVCDecoder *d = *out;
	int level = WELS_LOG_QUIET;
	(*d)->SetOption(d, DECODER_OPTION_TRACE_LEVEL, &level);
	SDecodingParam p;
	memset(&p, 0, sizeof p);
	p.eEcActiveIdc = ERROR_CON_DISABLE;
	p.sVideoProperty.eVideoBsType = VIDEO_BITSTREAM_AVC;
	return (int)(*d)->Initialize(d, &p);
}

static void pd_dec_close(ISVCDecoder *d) {
	(*d)->Uninitialize(d);
	WelsDestroyDecoder(d);
}

// pd_dec_decode decodes one access unit. It returns the DECODING_STATE and,
// when a picture is ready, sets *ready and the plane pointers and geometry.
static int pd_dec_decode(ISVCDecoder *d, const unsigned char *au, int n, int *ready,
                         unsigned char **planes, int *w, int *h, int *sy, int *suv) {
	SBufferInfo info;
	memset(&info, 0, sizeof info);
	unsigned char *dst[3] = {0};
	int st = (int)(*d)->DecodeFrameNoDelay(d, au, n, dst, &info);
	*ready = info.iBufferStatus == 1;
	if (*ready) {
		for (int i = 0; i < 3; i++) planes[i] = dst[i];
		*w = info.UsrData.sSystemBuffer.iWidth;
		*h = info.UsrData.sSystemBuffer.iHeight;
		*sy = info.UsrData.sSystemBuffer.iStride[0];
		*suv = info.UsrData.sSystemBuffer.iStride[1];
	}
	return st;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Frame is one decoded picture in I420, copied into Go memory: Y has
// Width*Height bytes, U and V (Width/2)*(Height/2) each, rows packed.
type Frame struct {
	Width, Height int
	Y, U, V       []byte
}

// Decoder decodes an Annex-B H.264 stream one access unit at a time. It is
// not safe for concurrent use.
type Decoder struct {
	d *C.ISVCDecoder
}

// New creates a decoder; Close releases it.
func New() (*Decoder, error) {
	var d *C.ISVCDecoder
	if rc := C.pd_dec_open(&d); rc != 0 {
		if d != nil {
			C.pd_dec_close(d)
		}
		return nil, fmt.Errorf("h264dec.New: OpenH264 status %d", int(rc))
	}
	return &Decoder{d: d}, nil
}

// Decode decodes one access unit (Annex-B, as the encoder returns it) and
// returns the picture it completes, or nil if none is ready yet.
func (d *Decoder) Decode(au []byte) (*Frame, error) {
	if d.d == nil {
		return nil, errors.New("h264dec.Decode: decoder closed")
	}
	if len(au) == 0 {
		return nil, nil
	}
	var (
		ready, w, h, sy, suv C.int
		planes               [3]*C.uchar
	)
	st := C.pd_dec_decode(d.d, (*C.uchar)(unsafe.Pointer(&au[0])), C.int(len(au)), &ready,
		&planes[0], &w, &h, &sy, &suv)
	if st != 0 {
		return nil, fmt.Errorf("h264dec.Decode: DECODING_STATE 0x%x", int(st))
	}
	if ready == 0 {
		return nil, nil
	}
	f := &Frame{Width: int(w), Height: int(h)}
	f.Y = copyPlane(planes[0], int(sy), f.Width, f.Height)
	f.U = copyPlane(planes[1], int(suv), f.Width/2, f.Height/2)
	f.V = copyPlane(planes[2], int(suv), f.Width/2, f.Height/2)
	return f, nil
}

// copyPlane copies rows of w bytes, stride apart, out of decoder memory.
func copyPlane(p *C.uchar, stride, w, h int) []byte {
	src := unsafe.Slice((*byte)(unsafe.Pointer(p)), stride*(h-1)+w)
	out := make([]byte, w*h)
	for y := range h {
		copy(out[y*w:(y+1)*w], src[y*stride:y*stride+w])
	}
	return out
}

// Close releases the decoder; it is idempotent.
func (d *Decoder) Close() {
	if d.d != nil {
		C.pd_dec_close(d.d)
		d.d = nil
	}
}
