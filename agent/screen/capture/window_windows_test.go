package capture

import (
	"fmt"
	"image"
	"image/color"
	"testing"

	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/wine/window"
)

// TestGDICaptureWindow: what a real top-level window paints (its WM_PAINT
// fills two halves in two colours) is in the captured frame at the
// window's place, corner pixels included. Under Wine (e2e
// TestWindowsGDICapture) the window is an X window on Xvfb and the capture
// reads it back through Wine's GDI.
func TestGDICaptureWindow(t *testing.T) {
	src, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ms, err := src.Monitors()
	if err != nil {
		t.Fatal(err)
	}
	screen := virtualScreen(ms)
	origin := screen.Min
	for _, m := range ms {
		if m.Primary {
			origin = image.Pt(m.X, m.Y)
		}
	}
	rect := image.Rect(200, 150, 360, 270).Add(origin)
	left, right := color.RGBA{10, 180, 90, 255}, color.RGBA{220, 30, 140, 255}
	window.Open(t, window.Options{Rect: rect, Left: left, Right: right})

	mid := (rect.Min.X + rect.Max.X) / 2
	want := map[image.Point]color.RGBA{
		rect.Min:                               left, // top-left corner
		image.Pt(mid-1, rect.Max.Y-1):          left,
		image.Pt(mid, rect.Min.Y):              right,
		rect.Max.Sub(image.Pt(1, 1)):           right, // bottom-right corner
		image.Pt(rect.Min.X+20, rect.Min.Y+60): left,
	}
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("last mismatch: %s", last)
		}
	}()
	wait.For(t, "the window's two colours in a captured frame", func() bool {
		f, err := src.Grab()
		if err != nil {
			t.Fatal(err)
		}
		for p, c := range want {
			q := p.Sub(screen.Min)
			if got := at(f, q.X, q.Y); got != c {
				last = p.String() + ": " + colorString(got) + ", want " + colorString(c)
				return false
			}
		}
		return true
	})
}

func colorString(c color.RGBA) string {
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}
