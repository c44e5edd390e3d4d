//go:build windows && (amd64 || 386) && !noopenh264

// This test needs a desktop and OpenH264's DLL beside the test binary
// (openh264-2.3.1-win64.dll): run it on Windows in an interactive session,
// or on Linux under Wine on an Xvfb display, as the Windows lane does
// (agent/screen/h264/internal/winelane builds it, runs it and decodes what
// it wrote).

package h264

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/peerdesk/peerdesk/agent/screen/capture"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/wine/window"
)

// The scene TestEncodeCapturedWindow paints and winelane checks after
// decoding: a window in two colours (primary-monitor coordinates) and, in
// the band below it, a bar that moves 16 rows a frame.
var (
	sceneWindow        = image.Rect(300, 200, 700, 500)
	sceneLeft          = color.RGBA{10, 180, 90, 255}
	sceneRight         = color.RGBA{220, 30, 140, 255}
	sceneBand          = image.Rect(0, 600, 1920, 1000)
	sceneBarHeight     = 64
	sceneMovingFrames  = 60
	sceneStreamEnvName = "PEERDESK_H264_OUT"
)

// SceneReport is what TestEncodeCapturedWindow leaves in report.json
// beside the access units (au-000.h264, …), for the Linux side.
type SceneReport struct {
	Width, Height int
	AccessUnits   int
	Window        image.Rectangle // in the frame
	Left, Right   color.RGBA
	Choice        string   // Encoder.Choice().String()
	MFTs          []string // H.264 encoder MFTs Media Foundation enumerates
	MFProbe       string   // why it could not be asked, if so
	MFDecoders    []string // H.264 decoder MFTs: the probe's control
	// Medians over the moving frames, in milliseconds.
	CaptureMS, EncodeMS, CaptureEncodeMS float64
}

var (
	testUser32         = windows.NewLazySystemDLL("user32.dll")
	testGdi32          = windows.NewLazySystemDLL("gdi32.dll")
	procTestGetDC      = testUser32.NewProc("GetDC")
	procTestReleaseDC  = testUser32.NewProc("ReleaseDC")
	procTestFillRect   = testUser32.NewProc("FillRect")
	procTestSolidBrush = testGdi32.NewProc("CreateSolidBrush")
	procTestDeleteObj  = testGdi32.NewProc("DeleteObject")
)

// paintScreenRects fills each rectangle (virtual-screen coordinates) with
// its colour straight onto the screen DC, as an application drawing would.
func paintScreenRects(t *testing.T, rects []image.Rectangle, cols []color.RGBA) {
	t.Helper()
	runtime.LockOSThread() // GetDC and ReleaseDC on one thread
	defer runtime.UnlockOSThread()
	dc, _, err := procTestGetDC.Call(0)
	if dc == 0 {
		t.Fatalf("GetDC: %v", err)
	}
	defer procTestReleaseDC.Call(0, dc) // test helper; a failure shows as wrong pixels
	for i, r := range rects {
		c := cols[i]
		brush, _, err := procTestSolidBrush.Call(uintptr(c.B)<<16 | uintptr(c.G)<<8 | uintptr(c.R))
		if brush == 0 {
			t.Fatalf("CreateSolidBrush: %v", err)
		}
		rc := windows.Rect{Left: int32(r.Min.X), Top: int32(r.Min.Y), Right: int32(r.Max.X), Bottom: int32(r.Max.Y)}
		ok, _, err := procTestFillRect.Call(dc, uintptr(unsafe.Pointer(&rc)), brush)
		procTestDeleteObj.Call(brush) // test helper; leaking one brush is harmless
		if ok == 0 {
			t.Fatalf("FillRect: %v", err)
		}
	}
}

func bgraAt(f capture.Frame, p image.Point) color.RGBA {
	i := p.Y*f.Stride + p.X*4
	return color.RGBA{f.Pix[i+2], f.Pix[i+1], f.Pix[i], 255}
}

func medianMS(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

// TestEncodeCapturedWindow: the Windows encoder, on the implementation
// chosen at run time, encodes what GDI captured of a real Win32 window,
// then sceneMovingFrames frames of a bar moving over the screen, each
// grabbed and encoded in turn (timed). With $PEERDESK_H264_OUT set it
// writes the access units and a SceneReport there for a decoder on another
// system (the lane's, on Linux) to check the pixels; this side checks what
// it can without a decoder: the choice, and an IDR first.
func TestEncodeCapturedWindow(t *testing.T) {
	out := os.Getenv(sceneStreamEnvName)
	if out == "" {
		out = t.TempDir()
	}
	var rep SceneReport
	names, err := probeMediaFoundation()
	rep.MFTs = names
	if err != nil {
		rep.MFProbe = err.Error()
	}
	t.Logf("Media Foundation's H.264 encoders: %q (probe error: %v)", names, err)
	// The control: the same enumeration finds H.264 decoders (Wine 8 has
	// one), so an empty encoder list is Media Foundation's answer, not a
	// broken probe.
	decoders, err := enumMFTs(&mftCategoryVideoDecoder, &mftRegisterTypeInfo{major: mfMediaTypeVideo, sub: mfVideoFormatH264}, nil)
	t.Logf("Media Foundation's H.264 decoders: %q (probe error: %v)", decoders, err)
	if err != nil || len(decoders) == 0 {
		t.Errorf("the probe finds no H.264 decoder either (%v): it cannot tell whether an encoder is there", err)
	}
	rep.MFDecoders = decoders
	all, err := enumMFTs(&mftCategoryVideoEncoder, nil, nil)
	t.Logf("Media Foundation's video encoders, any format: %q (probe error: %v)", all, err)

	src, err := capture.Open("")
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
		if m.Primary {
			primary = i
		}
	}
	if primary < 0 {
		t.Fatalf("no primary monitor in %+v", ms)
	}
	if err := src.Select(primary); err != nil {
		t.Fatal(err)
	}
	mon := ms[primary]
	origin := image.Pt(mon.X, mon.Y)
	if !sceneBand.In(image.Rect(0, 0, mon.Width, mon.Height)) {
		t.Fatalf("the primary monitor is %dx%d; the scene needs 1920x1080", mon.Width, mon.Height)
	}
	window.Open(t, window.Options{Rect: sceneWindow.Add(origin), Left: sceneLeft, Right: sceneRight})

	// The first frame: the window as painted (its WM_PAINT may come a
	// moment after it is shown).
	inner := sceneWindow.Inset(8)
	mid := (sceneWindow.Min.X + sceneWindow.Max.X) / 2
	probes := map[image.Point]color.RGBA{
		inner.Min: sceneLeft, image.Pt(mid-8, inner.Max.Y-1): sceneLeft,
		image.Pt(mid+8, inner.Min.Y): sceneRight, inner.Max.Sub(image.Pt(1, 1)): sceneRight,
	}
	var first capture.Frame
	wait.For(t, "the window's two colours in a captured frame", func() bool {
		f, err := src.Grab()
		if err != nil {
			t.Fatal(err)
		}
		for p, c := range probes {
			if bgraAt(f, p) != c {
				return false
			}
		}
		first = f
		return true
	})
	w, h := first.Width&^1, first.Height&^1
	e, err := NewEncoder(Options{Width: w, Height: h, FPS: 30, Bitrate: 4_000_000})
	if err != nil {
		t.Fatalf("NewEncoder: %v", err)
	}
	defer e.Close()
	now := time.Unix(1_700_000_000, 0)
	e.clock = func() time.Time { now = now.Add(time.Second / 30); return now } // rate control sees 30 fps however slow Wine is
	c := e.Choice()
	rep.Choice = c.String()
	t.Logf("encoder: %s", c)
	if c.Implementation != OpenH264 || len(c.PassedOver) != 1 || !strings.HasPrefix(c.PassedOver[0], string(MediaFoundation)+": ") {
		t.Errorf("choice %+v: want OpenH264, Media Foundation passed over with its reason (this build has no Media Foundation encoder)", c)
	}

	n := 0
	write := func(au []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("au-%03d.h264", n)), au, 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	au, err := e.Encode(first.Pix, first.Stride, true)
	if err != nil {
		t.Fatalf("encoding the first frame: %v", err)
	}
	if !hasIDR(au) {
		t.Fatalf("the first access unit (%d bytes) has no IDR slice", len(au))
	}
	write(au)

	bar := []color.RGBA{{250, 200, 40, 255}, {40, 90, 250, 255}}
	var grabT, encT, bothT []time.Duration
	for i := range sceneMovingFrames {
		y := sceneBand.Min.Y + (i*16)%(sceneBand.Dy()-sceneBarHeight)
		r := image.Rect(sceneBand.Min.X, y, sceneBand.Max.X, y+sceneBarHeight)
		// The band is cleared to black and the bar painted anew.
		paintScreenRects(t, []image.Rectangle{sceneBand.Add(origin), r.Add(origin)}, []color.RGBA{{0, 0, 0, 255}, bar[i%2]})
		t0 := time.Now()
		f, err := src.Grab()
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		au, err := e.Encode(f.Pix, f.Stride, false)
		if err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		t2 := time.Now()
		grabT, encT, bothT = append(grabT, t1.Sub(t0)), append(encT, t2.Sub(t1)), append(bothT, t2.Sub(t0))
		write(au)
	}
	rep.Width, rep.Height, rep.AccessUnits = w, h, n
	rep.Window, rep.Left, rep.Right = sceneWindow, sceneLeft, sceneRight
	rep.CaptureMS, rep.EncodeMS, rep.CaptureEncodeMS = medianMS(grabT), medianMS(encT), medianMS(bothT)
	t.Logf("capture+encode %dx%d: median %.1f ms/frame over %d frames (capture %.1f ms, encode %.1f ms)",
		w, h, rep.CaptureEncodeMS, len(bothT), rep.CaptureMS, rep.EncodeMS)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "report.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hasIDR says whether an Annex-B access unit holds a NAL unit of type 5.
func hasIDR(au []byte) bool {
	for i := 0; i+3 < len(au); i++ {
		if au[i] == 0 && au[i+1] == 0 && au[i+2] == 1 && au[i+3]&0x1f == 5 {
			return true
		}
	}
	return false
}
