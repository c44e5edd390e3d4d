// These tests need a desktop: run them on Windows in an interactive
// session, or on Linux under Wine on an Xvfb display (Wine 8 lacks
// bcryptprimitives.dll, which Go's runtime loads; a stub exporting
// ProcessPrng over BCryptGenRandom, built with mingw-w64, fills the gap):
//
//	GOOS=windows go test -c -o capture_test.exe ./agent/screen/capture/
//	DISPLAY=:99 wine64 capture_test.exe -test.v

package capture

import (
	"errors"
	"image"
	"image/color"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	procCreateSolidBrush = gdi32.NewProc("CreateSolidBrush")
	procFillRect         = user32.NewProc("FillRect")
)

// paintScreen paints r (virtual-screen coordinates) with c straight onto
// the screen DC, as any application drawing would change the screen. The
// next repaint of whatever lies there erases it; the test reads it at once.
func paintScreen(t *testing.T, r image.Rectangle, c color.RGBA) {
	t.Helper()
	err := physicalPixels(func() error {
		dc, _, err := procGetDC.Call(0)
		if dc == 0 {
			return err
		}
		defer procReleaseDC.Call(0, dc) // test helper; a failure here shows up as wrong pixels
		brush, _, err := procCreateSolidBrush.Call(uintptr(c.B)<<16 | uintptr(c.G)<<8 | uintptr(c.R))
		if brush == 0 {
			return err
		}
		defer procDeleteObject.Call(brush) // test helper; leaking one brush is harmless
		rc := windows.Rect{Left: int32(r.Min.X), Top: int32(r.Min.Y), Right: int32(r.Max.X), Bottom: int32(r.Max.Y)}
		if ok, _, err := procFillRect.Call(dc, uintptr(unsafe.Pointer(&rc)), brush); ok == 0 {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("painting the screen: %v", err)
	}
}

func TestGDICapture(t *testing.T) {
	src, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ms, err := src.Monitors()
	if err != nil {
		t.Fatal(err)
	}
	primary := -1
	for i, m := range ms {
		if m.Index != i || m.Width <= 0 || m.Height <= 0 {
			t.Errorf("monitor %d: %+v", i, m)
		}
		if m.Primary {
			primary = i
		}
	}
	if primary < 0 {
		t.Fatalf("no primary monitor in %+v", ms)
	}
	t.Logf("monitors: %+v", ms)
	screen := virtualScreen(ms)

	f, err := src.Grab()
	if err != nil {
		t.Fatal(err)
	}
	if f.Width != screen.Dx() || f.Height != screen.Dy() || f.Stride != 4*f.Width || len(f.Pix) != f.Stride*f.Height {
		t.Fatalf("whole-screen frame %dx%d stride %d (%d bytes), want %v", f.Width, f.Height, f.Stride, len(f.Pix), screen)
	}

	// A change is seen by Next, at the right place and in BGRA order.
	colour := color.RGBA{200, 100, 50, 255}
	block := image.Rect(100, 100, 140, 140).Add(image.Pt(ms[primary].X, ms[primary].Y))
	paintScreen(t, block, colour)
	f, err = next(t, src, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p := block.Min.Add(image.Pt(20, 20)).Sub(screen.Min)
	if got := at(f, p.X, p.Y); got != colour {
		t.Errorf("painted pixel = %v, want %v", got, colour)
	}

	if err := src.Select(primary); err != nil {
		t.Fatal(err)
	}
	f, err = next(t, src, time.Second) // a new selection gives a frame at once
	if err != nil {
		t.Fatal(err)
	}
	if f.Width != ms[primary].Width || f.Height != ms[primary].Height {
		t.Errorf("primary monitor frame %dx%d, want %dx%d", f.Width, f.Height, ms[primary].Width, ms[primary].Height)
	}
	if err := src.Select(len(ms)); !errors.Is(err, ErrNoMonitor) {
		t.Errorf("Select(%d) = %v, want ErrNoMonitor", len(ms), err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Grab(); !errors.Is(err, ErrClosed) {
		t.Errorf("Grab after Close = %v, want ErrClosed", err)
	}
}

func TestOpenRejectsDisplayName(t *testing.T) {
	if _, err := Open(":0"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Open(\":0\") = %v, want ErrUnsupported", err)
	}
}
