package xclient

import (
	"errors"
	"image"
	"image/color"
	"time"

	"github.com/jezek/xgb/xproto"
)

// The time stamp is a row of StampBits blocks of StampBlock x StampBlock
// pixels at the window's top-left: block i (from the left) is white when
// bit 47-i of the time in milliseconds since the Unix epoch is set, black
// otherwise (most significant bit first).
const (
	StampBits  = 48
	StampBlock = 16
)

// stampMask keeps the 48 bits a stamp carries.
const stampMask = 1<<StampBits - 1

// PaintStamp paints t as a time stamp (see StampBits) at the window's
// top-left corner. The window must be at least StampBits*StampBlock = 768
// pixels wide and StampBlock pixels high.
func (w *Window) PaintStamp(t time.Time) error {
	w.drawMu.Lock()
	defer w.drawMu.Unlock()
	if w.bounds.Dx() < StampBits*StampBlock || w.bounds.Dy() < StampBlock {
		return errors.New("xclient.PaintStamp: the window is smaller than the 768x16 stamp")
	}
	var black, white []xproto.Rectangle
	v := uint64(t.UnixMilli()) & stampMask
	for i := range StampBits {
		r := xrect(image.Rect(i*StampBlock, 0, (i+1)*StampBlock, StampBlock))
		if v>>(StampBits-1-i)&1 == 1 {
			white = append(white, r)
		} else {
			black = append(black, r)
		}
	}
	var reqs []checker
	if len(black) > 0 {
		reqs = append(reqs, w.fillRects(color.RGBA{A: 255}, black)...)
	}
	if len(white) > 0 {
		reqs = append(reqs, w.fillRects(color.RGBA{255, 255, 255, 255}, white)...)
	}
	return w.sync("PaintStamp", reqs)
}

// DecodeStamp reads back a time stamp painted by PaintStamp. pixelAt
// returns the colour at a coordinate relative to the stamp's top-left
// corner (the caller adds the window's position within a frame).
//
// It tolerates lossy video: each block is read as the mean luma of a 6x6
// patch at its centre (away from edges where compression rings) and
// thresholded at mid-grey. It reports false when any block is too close to
// mid-grey to call (no stamp there, or a frame caught mid-change) or when
// every block is black.
func DecodeStamp(pixelAt func(x, y int) (r, g, b uint8)) (time.Time, bool) {
	const (
		patch = 6
		low   = 80  // a block darker than this is black (a 0 bit)
		high  = 176 // a block brighter than this is white (a 1 bit)
	)
	var v uint64
	for i := range StampBits {
		x0 := i*StampBlock + (StampBlock-patch)/2
		y0 := (StampBlock - patch) / 2
		sum := 0
		for y := y0; y < y0+patch; y++ {
			for x := x0; x < x0+patch; x++ {
				r, g, b := pixelAt(x, y)
				sum += luma(r, g, b)
			}
		}
		mean := sum / (patch * patch)
		v <<= 1
		switch {
		case mean >= high:
			v |= 1
		case mean > low:
			return time.Time{}, false
		}
	}
	if v == 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(v)), true
}

// luma is the BT.601 luma of an sRGB colour, 0-255.
func luma(r, g, b uint8) int {
	return (299*int(r) + 587*int(g) + 114*int(b)) / 1000
}
