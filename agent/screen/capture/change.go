package capture

import (
	"bytes"
	"image"
)

// damageBand returns the rows [y0, y1) of area, counted from its top, that
// the damaged rectangles rects (virtual-screen coordinates) touch, and
// false when none of them meets area. Reading a band of whole rows keeps
// the read contiguous in a buffer of area's layout.
func damageBand(rects []image.Rectangle, area image.Rectangle) (y0, y1 int, ok bool) {
	var u image.Rectangle
	for _, r := range rects {
		u = u.Union(r.Intersect(area))
	}
	if u.Empty() {
		return 0, 0, false
	}
	return u.Min.Y - area.Min.Y, u.Max.Y - area.Min.Y, true
}

// changedRows compares two images of height rows laid out with stride
// bytes per row, of which the first rowBytes hold pixels, and returns the
// band of rows [y0, y1) that holds every difference, or false when the
// images are equal.
func changedRows(prev, cur []byte, stride, rowBytes, height int) (y0, y1 int, changed bool) {
	row := func(b []byte, y int) []byte { return b[y*stride : y*stride+rowBytes] }
	y0 = 0
	for y0 < height && bytes.Equal(row(prev, y0), row(cur, y0)) {
		y0++
	}
	if y0 == height {
		return 0, 0, false
	}
	y1 = height
	for y1 > y0 && bytes.Equal(row(prev, y1-1), row(cur, y1-1)) {
		y1--
	}
	return y0, y1, true
}
