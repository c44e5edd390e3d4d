package capture

import (
	"image"
	"testing"
)

func TestDamageBand(t *testing.T) {
	area := image.Rect(960, 100, 1920, 1180)
	for _, tc := range []struct {
		name   string
		rects  []image.Rectangle
		y0, y1 int
		ok     bool
	}{
		{name: "none"},
		{name: "outside only", rects: []image.Rectangle{image.Rect(0, 0, 960, 1080), image.Rect(960, 0, 1920, 100)}},
		{name: "inside", rects: []image.Rectangle{image.Rect(1000, 200, 1010, 210)}, y0: 100, y1: 110, ok: true},
		{name: "straddling the top edge", rects: []image.Rectangle{image.Rect(900, 50, 1000, 150)}, y0: 0, y1: 50, ok: true},
		{
			name:  "union of the parts inside; parts outside do not widen it",
			rects: []image.Rectangle{image.Rect(0, 0, 10, 1080), image.Rect(1500, 300, 1600, 301), image.Rect(1000, 1000, 1001, 1100)},
			y0:    200, y1: 1000, ok: true,
		},
		{name: "everything", rects: []image.Rectangle{image.Rect(-5, -5, 4000, 4000)}, y0: 0, y1: 1080, ok: true},
	} {
		y0, y1, ok := damageBand(tc.rects, area)
		if y0 != tc.y0 || y1 != tc.y1 || ok != tc.ok {
			t.Errorf("%s: damageBand = %d, %d, %v; want %d, %d, %v", tc.name, y0, y1, ok, tc.y0, tc.y1, tc.ok)
		}
	}
}

func TestChangedRows(t *testing.T) {
	const w, h, stride = 5, 6, 24 // 20 bytes of pixels, 4 of padding per row
	prev := make([]byte, stride*h)
	for i := range prev {
		prev[i] = byte(i)
	}
	for _, tc := range []struct {
		name   string
		change []int // byte offsets to flip
		y0, y1 int
		ok     bool
	}{
		{name: "equal"},
		{name: "padding only", change: []int{20, 2*stride + 23}},
		{name: "first byte", change: []int{0}, y0: 0, y1: 1, ok: true},
		{name: "last pixel byte", change: []int{5*stride + 19}, y0: 5, y1: 6, ok: true},
		{name: "two rows apart", change: []int{1*stride + 3, 4*stride + 7}, y0: 1, y1: 5, ok: true},
	} {
		cur := append([]byte(nil), prev...)
		for _, i := range tc.change {
			cur[i] ^= 0xff
		}
		y0, y1, ok := changedRows(prev, cur, stride, w*4, h)
		if y0 != tc.y0 || y1 != tc.y1 || ok != tc.ok {
			t.Errorf("%s: changedRows = %d, %d, %v; want %d, %d, %v", tc.name, y0, y1, ok, tc.y0, tc.y1, tc.ok)
		}
	}
}
