package xclient

import (
	"image"
	"image/color"

	"github.com/jezek/xgb/xproto"
)

// PatternCell is the side, in pixels, of one block of the pattern drawn by
// DrawPattern and Scroll.
const PatternCell = 32

// palette holds the pattern's colours. They differ in every channel, and
// red/blue-asymmetric ones are included, so a swapped channel order or an
// off-by-one block shows up as a wrong colour.
var palette = [...]color.RGBA{
	{255, 0, 0, 255},
	{0, 255, 0, 255},
	{0, 0, 255, 255},
	{255, 255, 0, 255},
	{255, 0, 255, 255},
	{0, 255, 255, 255},
	{200, 100, 50, 255},
	{30, 60, 90, 255},
}

// PatternColor returns the colour of the pattern at pattern coordinate
// (x, y): the pattern is a grid of PatternCell x PatternCell blocks; the
// block in column x/PatternCell and row y/PatternCell (rounded down, also
// for negative y) has colour number (column + 3*row) mod 8 of a fixed
// palette, so horizontally and vertically adjacent blocks always differ.
//
// After DrawPattern the pixel at window coordinate (x, y) is
// PatternColor(x, y); after Scroll calls totalling s pixels it is
// PatternColor(x, y+s).
func PatternColor(x, y int) color.RGBA {
	return palette[paletteIndex(floorDiv(x, PatternCell), floorDiv(y, PatternCell))]
}

func paletteIndex(col, row int) int {
	n := len(palette)
	return ((col+3*row)%n + n) % n
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// pixel converts c to a pixel value of the 0xRRGGBB visual (see rgb888).
func pixel(c color.RGBA) uint32 {
	return uint32(c.R)<<16 | uint32(c.G)<<8 | uint32(c.B)
}

// Fill paints the whole window with c.
func (w *Window) Fill(c color.RGBA) error {
	w.drawMu.Lock()
	defer w.drawMu.Unlock()
	return w.sync("Fill", w.fill(w.local(), c))
}

// FillRect paints r (window coordinates) with c.
func (w *Window) FillRect(r image.Rectangle, c color.RGBA) error {
	w.drawMu.Lock()
	defer w.drawMu.Unlock()
	return w.sync("FillRect", w.fill(r, c))
}

// DrawPattern paints the pattern described at PatternColor over the whole
// window and resets the scroll offset to 0.
func (w *Window) DrawPattern() error {
	w.drawMu.Lock()
	defer w.drawMu.Unlock()
	w.offset = 0
	return w.sync("DrawPattern", w.pattern(w.local(), 0))
}

// Scroll shifts the window's content up by dy pixels (down if dy < 0), as
// when a document scrolls forward, with a server-side copy (CopyArea), and
// paints the band that comes into view with the pattern continued, so that
// the window keeps showing PatternColor(x, y+s) for the total offset s. A
// call with |dy| >= the window height repaints everything. Calling it once
// per frame gives a "whole screen scrolls" load.
func (w *Window) Scroll(dy int) error {
	w.drawMu.Lock()
	defer w.drawMu.Unlock()
	if dy == 0 {
		return nil
	}
	full := w.local()
	width, height := full.Dx(), full.Dy()
	w.offset += dy
	var reqs []checker
	band := full
	switch {
	case dy >= height || -dy >= height:
	case dy > 0:
		reqs = append(reqs, xproto.CopyAreaChecked(w.conn, xproto.Drawable(w.id), xproto.Drawable(w.id), w.gc,
			0, int16(dy), 0, 0, uint16(width), uint16(height-dy)))
		band = image.Rect(0, height-dy, width, height)
	default:
		reqs = append(reqs, xproto.CopyAreaChecked(w.conn, xproto.Drawable(w.id), xproto.Drawable(w.id), w.gc,
			0, 0, 0, int16(-dy), uint16(width), uint16(height+dy)))
		band = image.Rect(0, 0, width, -dy)
	}
	return w.sync("Scroll", append(reqs, w.pattern(band, w.offset)...))
}

// local returns the window's rectangle in its own coordinates.
func (w *Window) local() image.Rectangle {
	return image.Rect(0, 0, w.bounds.Dx(), w.bounds.Dy())
}

// fill sends the requests painting r with c.
func (w *Window) fill(r image.Rectangle, c color.RGBA) []checker {
	r = r.Intersect(w.local())
	if r.Empty() {
		return nil
	}
	return w.fillRects(c, []xproto.Rectangle{xrect(r)})
}

// pattern sends the requests painting r (window coordinates) with the
// pattern shifted up by off pixels, one PolyFillRectangle per colour.
func (w *Window) pattern(r image.Rectangle, off int) []checker {
	var groups [len(palette)][]xproto.Rectangle
	for y := floorDiv(r.Min.Y+off, PatternCell)*PatternCell - off; y < r.Max.Y; y += PatternCell {
		row := floorDiv(y+off, PatternCell)
		for x := floorDiv(r.Min.X, PatternCell) * PatternCell; x < r.Max.X; x += PatternCell {
			cell := image.Rect(x, y, x+PatternCell, y+PatternCell).Intersect(r)
			if cell.Empty() {
				continue
			}
			i := paletteIndex(floorDiv(x, PatternCell), row)
			groups[i] = append(groups[i], xrect(cell))
		}
	}
	var reqs []checker
	for i, rects := range groups {
		if len(rects) > 0 {
			reqs = append(reqs, w.fillRects(palette[i], rects)...)
		}
	}
	return reqs
}

// maxRects keeps one PolyFillRectangle under the core protocol's request
// size limit (256 KiB) without relying on BIG-REQUESTS.
const maxRects = 8000

func (w *Window) fillRects(c color.RGBA, rects []xproto.Rectangle) []checker {
	reqs := []checker{xproto.ChangeGCChecked(w.conn, w.gc, xproto.GcForeground, []uint32{pixel(c)})}
	for len(rects) > 0 {
		n := min(len(rects), maxRects)
		reqs = append(reqs, xproto.PolyFillRectangleChecked(w.conn, xproto.Drawable(w.id), w.gc, rects[:n]))
		rects = rects[n:]
	}
	return reqs
}

func xrect(r image.Rectangle) xproto.Rectangle {
	return xproto.Rectangle{X: int16(r.Min.X), Y: int16(r.Min.Y), Width: uint16(r.Dx()), Height: uint16(r.Dy())}
}
