package h264

import (
	"bytes"
	"fmt"
)

// drawScene paints a synthetic desktop into pix (BGRA): a diagonal gradient
// that moves with shift, and a light panel of text-like glyph blocks whose
// content is anchored to row textY0 (scrolling moves it up).
func drawScene(pix []byte, stride, w, h, shift, textY0 int) {
	x0, x1 := w/8, w*7/8
	for y := range h {
		row := pix[y*stride : y*stride+w*4]
		ty := y + textY0
		for x := range w {
			p := row[x*4 : x*4+4]
			if x >= x0 && x < x1 && ty%240 < 200 {
				p[0], p[1], p[2], p[3] = 245, 245, 240, 255
				if glyphBit(x-x0, ty) {
					p[0], p[1], p[2] = 30, 25, 20
				}
				continue
			}
			p[0] = byte(x + shift)
			p[1] = byte(y + shift/2)
			p[2] = byte((x + y + shift) >> 2)
			p[3] = 255
		}
	}
}

// glyphBit reports whether pixel (x, y) of a text panel is ink. Cells are
// 8x16 pixels; a glyph is a pseudo-random pick of strokes (a 7-segment
// alphabet, 1 px wide, 6x10 px), with spaces between words and ragged line
// ends, which is about as dense as a terminal full of code.
func glyphBit(x, y int) bool {
	cx, cy, gx, gy := x/8, y/16, x%8, y%16-3
	if gx >= 6 || gy < 0 || gy >= 10 {
		return false
	}
	hc := uint32(cx)*73856093 ^ uint32(cy)*19349663
	hc ^= hc >> 13
	hc *= 0x5bd1e995
	hc ^= hc >> 15
	if hc%6 == 0 || (cx+int(uint32(cy)*2654435761>>20))%90 > 70 {
		return false
	}
	seg := hc >> 3
	switch {
	case gy == 0 && gx < 5:
		return seg&1 != 0 // top
	case gy == 5 && gx < 5:
		return seg&2 != 0 // middle
	case gy == 9 && gx < 5:
		return seg&4 != 0 // bottom
	case gx == 0:
		return seg&(8<<(gy/5)) != 0 // left, upper or lower half
	case gx == 4:
		return seg&(32<<(gy/5)) != 0 // right, upper or lower half
	case gx == 2 && gy > 5:
		return seg&128 != 0 // descender-ish stem
	}
	return false
}

// nalTypes splits an Annex-B access unit and returns the nal_unit_type of
// each NAL unit. Every start code must be the 4-byte form.
func nalTypes(au []byte) ([]int, error) {
	sc := []byte{0, 0, 0, 1}
	if !bytes.HasPrefix(au, sc) {
		return nil, fmt.Errorf("access unit does not start with 00 00 00 01: % x", au[:min(len(au), 8)])
	}
	var types []int
	for rest := au; len(rest) > 0; {
		rest = rest[len(sc):]
		end := bytes.Index(rest, sc)
		if end < 0 {
			end = len(rest)
		}
		nal := rest[:end]
		if i := bytes.Index(nal, []byte{0, 0, 1}); i >= 0 {
			return nil, fmt.Errorf("NAL %d has a 3-byte start code inside", len(types))
		}
		if len(nal) < 2 || nal[0]&0x80 != 0 {
			return nil, fmt.Errorf("NAL %d: bad header (% x)", len(types), nal[:min(len(nal), 2)])
		}
		types = append(types, int(nal[0]&0x1f))
		rest = rest[end:]
	}
	return types, nil
}

// firstNAL returns the payload of the first NAL unit of type t, or nil.
func firstNAL(au []byte, t int) []byte {
	for _, part := range bytes.Split(au, []byte{0, 0, 0, 1}) {
		if len(part) > 0 && int(part[0]&0x1f) == t {
			return part
		}
	}
	return nil
}
