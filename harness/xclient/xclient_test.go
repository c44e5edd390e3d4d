package xclient

import (
	"image"
	"image/color"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/peerdesk/peerdesk/harness/leak"
)

func TestPatternColorNeighboursDiffer(t *testing.T) {
	for _, p := range []image.Point{{0, 0}, {31, 31}, {100, 70}, {-1, -1}, {5, -33}} {
		c := PatternColor(p.X, p.Y)
		for _, d := range []image.Point{{PatternCell, 0}, {0, PatternCell}, {-PatternCell, 0}, {0, -PatternCell}} {
			if n := PatternColor(p.X+d.X, p.Y+d.Y); n == c {
				t.Errorf("PatternColor(%v) = PatternColor(%v) = %v", p, p.Add(d), c)
			}
		}
	}
	if PatternColor(0, 0) != PatternColor(31, 31) {
		t.Error("one block has two colours")
	}
	if PatternColor(-1, 0) != PatternColor(-32, 0) || PatternColor(-1, 0) == PatternColor(0, 0) {
		t.Error("negative coordinates are not floored to their block")
	}
}

func TestKeysymName(t *testing.T) {
	for sym, want := range map[uint32]string{
		'a': "a", 'Z': "Z", '7': "7", 0xff0d: "Return", 0x20: "space", 0xffe1: "Shift_L",
		0xffe3: "Control_L", 0xffe9: "Alt_L", 0xffff: "Delete", 0xff51: "Left", 0xffbe: "F1",
		0xffc9: "F12", 0x1234: "0x1234",
	} {
		if got := KeysymName(sym); got != want {
			t.Errorf("KeysymName(%#x) = %q, want %q", sym, got, want)
		}
	}
}

// stampImage paints a stamp of v into an image, as PaintStamp does on screen.
func stampImage(v uint64, noise func(x, y int) int) func(x, y int) (uint8, uint8, uint8) {
	return func(x, y int) (uint8, uint8, uint8) {
		l := 0
		if v>>(StampBits-1-x/StampBlock)&1 == 1 {
			l = 255
		}
		l = max(0, min(255, l+noise(x, y)))
		return uint8(l), uint8(l), uint8(l)
	}
}

func TestDecodeStamp(t *testing.T) {
	now := time.UnixMilli(1_760_000_123_456)
	v := uint64(now.UnixMilli())
	noisy := func(x, y int) int { return (x*7+y*13)%121 - 60 } // ±60, like heavy compression
	got, ok := DecodeStamp(stampImage(v, noisy))
	if !ok || !got.Equal(now) {
		t.Errorf("DecodeStamp(noisy) = %v, %v; want %v, true", got, ok, now)
	}
	grey := func(x, y int) (uint8, uint8, uint8) { return 128, 128, 128 }
	if _, ok := DecodeStamp(grey); ok {
		t.Error("DecodeStamp(mid-grey) reported a stamp")
	}
	if _, ok := DecodeStamp(stampImage(0, func(int, int) int { return 0 })); ok {
		t.Error("DecodeStamp(all black) reported a stamp")
	}
}

// screenshot reads r of the root window through the X socket.
type screenshot struct {
	r    image.Rectangle
	data []byte // BGRX
}

func grab(t *testing.T, display string, r image.Rectangle) screenshot {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root := xproto.Setup(c).DefaultScreen(c).Root
	img, err := xproto.GetImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(root),
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), ^uint32(0)).Reply()
	if err != nil {
		t.Fatal(err)
	}
	return screenshot{r, img.Data}
}

// at returns the colour at screen coordinate (x, y).
func (s screenshot) at(x, y int) color.RGBA {
	i := ((y-s.r.Min.Y)*s.r.Dx() + (x - s.r.Min.X)) * 4
	return color.RGBA{s.data[i+2], s.data[i+1], s.data[i], 255}
}

func TestDrawing(t *testing.T) {
	leak.Check(t) // first: runs last, after Xvfb is gone
	display := StartXvfb(t, 1024, 768)
	w := OpenWindow(t, display, 10, 20, 800, 600)
	defer w.Close()
	b := w.Bounds()
	points := []image.Point{{0, 0}, {31, 0}, {32, 0}, {0, 32}, {100, 100}, {799, 599}, {415, 263}}

	if err := w.DrawPattern(); err != nil {
		t.Fatal(err)
	}
	s := grab(t, display, b)
	for _, p := range points {
		if got, want := s.at(b.Min.X+p.X, b.Min.Y+p.Y), PatternColor(p.X, p.Y); got != want {
			t.Errorf("after DrawPattern, window pixel %v = %v, want %v", p, got, want)
		}
	}
	// Outside the window the screen stays black.
	if got := grab(t, display, image.Rect(5, 5, 6, 6)).at(5, 5); got != (color.RGBA{A: 255}) {
		t.Errorf("pixel outside the window = %v, want black", got)
	}

	for _, step := range []struct{ dy, total int }{{10, 10}, {-45, -35}, {700, 665}} {
		if err := w.Scroll(step.dy); err != nil {
			t.Fatal(err)
		}
		s := grab(t, display, b)
		for _, p := range points {
			if got, want := s.at(b.Min.X+p.X, b.Min.Y+p.Y), PatternColor(p.X, p.Y+step.total); got != want {
				t.Errorf("after Scroll to %d, window pixel %v = %v, want %v", step.total, p, got, want)
			}
		}
	}

	red := color.RGBA{255, 0, 0, 255}
	blue := color.RGBA{0, 0, 255, 255}
	if err := w.Fill(red); err != nil {
		t.Fatal(err)
	}
	if err := w.FillRect(image.Rect(100, 50, 110, 60), blue); err != nil {
		t.Fatal(err)
	}
	s = grab(t, display, b)
	for p, want := range map[image.Point]color.RGBA{{0, 0}: red, {99, 50}: red, {100, 50}: blue, {109, 59}: blue, {110, 59}: red} {
		if got := s.at(b.Min.X+p.X, b.Min.Y+p.Y); got != want {
			t.Errorf("after Fill and FillRect, window pixel %v = %v, want %v", p, got, want)
		}
	}

	stamp := time.UnixMilli(1_760_000_987_654)
	if err := w.PaintStamp(stamp); err != nil {
		t.Fatal(err)
	}
	s = grab(t, display, b)
	got, ok := DecodeStamp(func(x, y int) (uint8, uint8, uint8) {
		c := s.at(b.Min.X+x, b.Min.Y+y)
		return c.R, c.G, c.B
	})
	if !ok || !got.Equal(stamp) {
		t.Errorf("stamp read back from the screen = %v, %v; want %v", got, ok, stamp)
	}
}

func TestInputEvents(t *testing.T) {
	leak.Check(t)
	display := StartXvfb(t, 1024, 768)
	w := OpenWindow(t, display, 50, 40, 400, 300)

	inj, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	if err := xtest.Init(inj); err != nil {
		t.Fatal(err)
	}
	root := xproto.Setup(inj).DefaultScreen(inj).Root
	keyA, ok := w.keymap.keycode("a")
	if !ok {
		t.Fatal("no keycode for a")
	}
	keyShift, ok := w.keymap.keycode("Shift_L")
	if !ok {
		t.Fatal("no keycode for Shift_L")
	}
	fake := func(typ, detail byte, x, y int16) {
		t.Helper()
		if err := xtest.FakeInputChecked(inj, typ, detail, 0, root, x, y, 0).Check(); err != nil {
			t.Fatal(err)
		}
	}
	fake(xproto.MotionNotify, 0, 50+120, 40+80)
	fake(xproto.ButtonPress, 1, 0, 0)
	fake(xproto.ButtonRelease, 1, 0, 0)
	fake(xproto.KeyPress, keyShift, 0, 0)
	fake(xproto.KeyPress, keyA, 0, 0)
	fake(xproto.KeyRelease, keyA, 0, 0)
	fake(xproto.KeyRelease, keyShift, 0, 0)

	want := []Event{
		{Kind: "motion", X: 120, Y: 80},
		{Kind: "button", Down: true, Button: 1, X: 120, Y: 80},
		{Kind: "button", Button: 1, X: 120, Y: 80},
		{Kind: "key", Down: true, Keysym: "Shift_L", X: 120, Y: 80},
		{Kind: "key", Down: true, Keysym: "a", X: 120, Y: 80},
		{Kind: "key", Keysym: "a", X: 120, Y: 80},
		{Kind: "key", Keysym: "Shift_L", X: 120, Y: 80},
	}
	var got []Event
	timeout := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case e := <-w.Events():
			got = append(got, e)
		case <-timeout:
			t.Fatalf("timed out; events so far: %+v", got)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	w.Close()
	if _, open := <-w.Events(); open {
		t.Error("Events still open after Close")
	}
}
