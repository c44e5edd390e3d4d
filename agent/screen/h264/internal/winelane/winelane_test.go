//go:build cgo && linux && !noopenh264

package winelane

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/agent/screen/h264/internal/h264dec"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wine"
	"github.com/peerdesk/peerdesk/harness/xclient"
)

// report mirrors h264.SceneReport (capture_windows_test.go), which the
// Windows side writes as report.json.
type report struct {
	Width, Height int
	AccessUnits   int
	Window        image.Rectangle
	Left, Right   color.RGBA
	Choice        string
	MFTs          []string
	MFProbe       string
	MFDecoders    []string

	CaptureMS, EncodeMS, CaptureEncodeMS float64
}

// The scene the Windows side paints (h264.sceneWindow and its colours),
// stated again here so that a report naming other colours cannot pass.
var (
	wantWindow = image.Rect(300, 200, 700, 500)
	wantLeft   = color.RGBA{10, 180, 90, 255}
	wantRight  = color.RGBA{220, 30, 140, 255}
)

// winPath is a Linux path as a Wine process sees it (drive Z: is /).
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// TestWindowsEncoderStreamDecodes: agent/screen/h264's
// TestEncodeCapturedWindow, cross-compiled and run under Wine on a
// 1920x1080 Xvfb with the lane's OpenH264 DLL beside it (where the agent
// looks for it), captures a Win32 window with GDI and encodes 61 frames
// on the encoder chosen at run time; every access unit decodes here (the
// rate controller may skip a few frames), and
// the first and last pictures show the window's two colours where it was.
func TestWindowsEncoderStreamDecodes(t *testing.T) {
	lane := wine.Require(t)
	dll := lane.OpenH264(t)
	leak.Check(t)
	exe := wine.BuildTest(t, "./agent/screen/h264")
	b, err := os.ReadFile(dll)
	if err != nil {
		t.Fatal(err)
	}
	// The name and place the Windows agent loads it from (wels.DefaultLocation).
	if err := os.WriteFile(filepath.Join(filepath.Dir(exe), "openh264-2.3.1-win64.dll"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	t.Setenv("PEERDESK_H264_OUT", winPath(out))
	t.Setenv("PEERDESK_OPENH264", "") // the default location, not a path from the caller
	display := xclient.StartXvfb(t, 1920, 1080)
	r := lane.Run(t, display, exe, "-test.v", "-test.count=1", "-test.run", "^TestEncodeCapturedWindow$")
	t.Logf("agent/screen/h264 under Wine: exit %d in %v\n%s%s", r.Code, r.Took, r.Stdout, r.Stderr)
	if r.Code != 0 || !strings.Contains(r.Stdout, "--- PASS: TestEncodeCapturedWindow ") {
		t.Fatalf("TestEncodeCapturedWindow did not pass under Wine (exit %d)", r.Code)
	}

	rb, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(rb, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	t.Logf("Wine: encoder %s; Media Foundation H.264 encoders %q (probe error %q), decoders %q; capture+encode %dx%d median %.1f ms/frame (capture %.1f, encode %.1f)",
		rep.Choice, rep.MFTs, rep.MFProbe, rep.MFDecoders, rep.Width, rep.Height, rep.CaptureEncodeMS, rep.CaptureMS, rep.EncodeMS)
	if rep.Window != wantWindow || rep.Left != wantLeft || rep.Right != wantRight {
		t.Fatalf("the Windows side painted %v in %v/%v, want %v in %v/%v", rep.Window, rep.Left, rep.Right, wantWindow, wantLeft, wantRight)
	}
	if rep.AccessUnits < 31 || rep.Width != 1920 || rep.Height != 1080 {
		t.Fatalf("report: %d access units of %dx%d, want ≥ 31 of 1920x1080", rep.AccessUnits, rep.Width, rep.Height)
	}

	d, err := h264dec.New()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var firstPic, lastPic *h264dec.Frame
	skipped := 0
	for i := range rep.AccessUnits {
		au, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("au-%03d.h264", i)))
		if err != nil {
			t.Fatal(err)
		}
		if len(au) == 0 {
			skipped++ // the rate controller skipped the frame: nothing to decode
			continue
		}
		f, err := d.Decode(au)
		if err != nil {
			t.Fatalf("access unit %d (%d bytes): %v", i, len(au), err)
		}
		if f == nil {
			t.Fatalf("access unit %d (%d bytes) completed no picture", i, len(au))
		}
		if f.Width != rep.Width || f.Height != rep.Height {
			t.Fatalf("access unit %d decodes to %dx%d, want %dx%d", i, f.Width, f.Height, rep.Width, rep.Height)
		}
		if firstPic == nil {
			firstPic = f
		}
		lastPic = f
	}
	t.Logf("%d access units decoded, %d frames skipped by the rate controller", rep.AccessUnits-skipped, skipped)
	if firstPic == nil || skipped > rep.AccessUnits/4 {
		t.Fatalf("%d of %d frames skipped", skipped, rep.AccessUnits)
	}
	for name, f := range map[string]*h264dec.Frame{"first": firstPic, "last": lastPic} {
		checkWindow(t, name, f)
	}
}

// checkWindow compares the decoded colour at points inside each half of
// the window (away from the edges, where coding blurs) with what was
// painted, within the loss of 4:2:0 coding at 4 Mbit/s.
func checkWindow(t *testing.T, name string, f *h264dec.Frame) {
	t.Helper()
	in := wantWindow.Inset(12)
	mid := (wantWindow.Min.X + wantWindow.Max.X) / 2
	for _, p := range []struct {
		at   image.Point
		want color.RGBA
	}{
		{in.Min, wantLeft},
		{image.Pt(mid-12, in.Max.Y-1), wantLeft},
		{image.Pt((in.Min.X+mid)/2, (in.Min.Y+in.Max.Y)/2), wantLeft},
		{image.Pt(mid+12, in.Min.Y), wantRight},
		{in.Max.Sub(image.Pt(1, 1)), wantRight},
		{image.Pt((mid+in.Max.X)/2, (in.Min.Y+in.Max.Y)/2), wantRight},
	} {
		got := rgbAt(f, p.at)
		if !near(got, p.want, 12) {
			t.Errorf("%s picture at %v: #%02x%02x%02x, want #%02x%02x%02x (±12)", name, p.at, got.R, got.G, got.B, p.want.R, p.want.G, p.want.B)
		}
	}
	// Outside the window is not its colour (the test would pass on a
	// picture filled with one of them otherwise).
	for _, p := range []image.Point{{100, 100}, {900, 350}} {
		if got := rgbAt(f, p); near(got, wantLeft, 24) || near(got, wantRight, 24) {
			t.Errorf("%s picture at %v, outside the window: #%02x%02x%02x, a window colour", name, p, got.R, got.G, got.B)
		}
	}
}

// rgbAt converts the decoded pixel at p from BT.601 studio range (what the
// encoder converts to) to RGB.
func rgbAt(f *h264dec.Frame, p image.Point) color.RGBA {
	y := float64(f.Y[p.Y*f.Width+p.X]) - 16
	u := float64(f.U[(p.Y/2)*(f.Width/2)+p.X/2]) - 128
	v := float64(f.V[(p.Y/2)*(f.Width/2)+p.X/2]) - 128
	clamp := func(x float64) uint8 { return uint8(min(255, max(0, x+0.5))) }
	return color.RGBA{
		R: clamp(1.164*y + 1.596*v),
		G: clamp(1.164*y - 0.392*u - 0.813*v),
		B: clamp(1.164*y + 2.017*u),
		A: 255,
	}
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}
