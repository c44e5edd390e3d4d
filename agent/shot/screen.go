package shot

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"

	"github.com/peerdesk/peerdesk/agent/screen/capture"
	"github.com/peerdesk/peerdesk/wire"
)

// Screen captures the whole screen of display ("" = $DISPLAY on X11;
// unused on Windows) through package capture as PNG, halved until it fits
// wire.MaxAttachmentSize.
func Screen(_ context.Context, display string) ([]byte, error) {
	src, err := capture.Open(display)
	if err != nil {
		return nil, fmt.Errorf("shot.Screen: %w", err)
	}
	defer src.Close()
	if err := src.Select(-1); err != nil {
		return nil, fmt.Errorf("shot.Screen: %w", err)
	}
	f, err := src.Grab()
	if err != nil {
		return nil, fmt.Errorf("shot.Screen: %w", err)
	}
	img := toRGBA(f)
	for {
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
			return nil, fmt.Errorf("shot.Screen: %w", err)
		}
		if buf.Len() <= wire.MaxAttachmentSize || img.Rect.Dx() < 64 {
			return buf.Bytes(), nil
		}
		img = half(img)
	}
}

// toRGBA copies a BGRA frame into an opaque RGBA image.
func toRGBA(f capture.Frame) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	for y := range f.Height {
		src := f.Pix[y*f.Stride : y*f.Stride+4*f.Width]
		dst := img.Pix[y*img.Stride : y*img.Stride+4*f.Width]
		for x := 0; x < 4*f.Width; x += 4 {
			dst[x], dst[x+1], dst[x+2], dst[x+3] = src[x+2], src[x+1], src[x], 0xff
		}
	}
	return img
}

// half scales img to half its width and height (every other pixel).
func half(img *image.RGBA) *image.RGBA {
	w, h := img.Rect.Dx()/2, img.Rect.Dy()/2
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			copy(out.Pix[y*out.Stride+4*x:][:4], img.Pix[2*y*img.Stride+8*x:][:4])
		}
	}
	return out
}
