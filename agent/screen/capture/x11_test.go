//go:build linux

package capture

import (
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"log"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jezek/xgb"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
)

func TestMain(m *testing.M) {
	// xgb logs through a package-level logger; keep test output readable
	// unless asked for (the harness's PEERDESK_TEST_LOG convention).
	if os.Getenv("PEERDESK_TEST_LOG") == "" {
		xgb.Logger = log.New(io.Discard, "", 0)
	}
	os.Exit(leak.Main(m)) // a backstop behind each test's own leak.Check
}

func openX(t testing.TB, display string) *x11Source {
	t.Helper()
	src, err := Open(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return src.(*x11Source)
}

func TestMonitorsOnXvfb(t *testing.T) {
	leak.Check(t)
	src := openX(t, xclient.StartXvfb(t, 1920, 1080))
	ms, err := src.Monitors()
	if err != nil {
		t.Fatal(err)
	}
	want := []Monitor{{Index: 0, Name: "screen", Width: 1920, Height: 1080, Primary: true}}
	if diff := cmp.Diff(want, ms); diff != "" {
		t.Errorf("Monitors (-want +got):\n%s", diff)
	}
	if !src.randr {
		t.Error("Xvfb offers RandR 1.5 but the source does not use it")
	}
	if src.noShm {
		t.Error("MIT-SHM is not in use")
	}
}

func TestGrabPattern(t *testing.T) {
	leak.Check(t)
	display := xclient.StartXvfb(t, 1920, 1080)
	w := xclient.OpenWindow(t, display, 100, 50, 640, 480)
	if err := w.DrawPattern(); err != nil {
		t.Fatal(err)
	}
	src := openX(t, display)
	f, err := src.Grab()
	if err != nil {
		t.Fatal(err)
	}
	if f.Width != 1920 || f.Height != 1080 || f.Stride != 1920*4 || len(f.Pix) != f.Stride*f.Height || f.Seq != 1 {
		t.Fatalf("frame %dx%d stride %d, %d bytes, seq %d", f.Width, f.Height, f.Stride, len(f.Pix), f.Seq)
	}
	for _, p := range []image.Point{{0, 0}, {31, 31}, {32, 0}, {0, 32}, {300, 200}, {639, 479}, {200, 33}} {
		want := xclient.PatternColor(p.X, p.Y)
		x, y := 100+p.X, 50+p.Y
		i := y*f.Stride + x*4
		if got := f.Pix[i : i+3]; got[0] != want.B || got[1] != want.G || got[2] != want.R {
			t.Errorf("window pixel %v: B,G,R = %v, want %d,%d,%d", p, got, want.B, want.G, want.R)
		}
	}
	for _, p := range []image.Point{{99, 50}, {100, 49}, {740, 530}, {1919, 1079}} {
		if got := at(f, p.X, p.Y); got != (color.RGBA{A: 255}) {
			t.Errorf("screen pixel %v outside the window = %v, want black", p, got)
		}
	}
	if g, err := src.Grab(); err != nil || g.Seq != 2 {
		t.Errorf("second Grab = seq %d, %v; want seq 2", g.Seq, err)
	}
}

func TestNextFollowsDamage(t *testing.T) {
	leak.Check(t)
	display := xclient.StartXvfb(t, 1920, 1080)
	w := xclient.OpenWindow(t, display, 0, 0, 1920, 1080)
	src := openX(t, display)

	f, err := next(t, src, wait.Timeout)
	if err != nil || f.Seq != 1 {
		t.Fatalf("first Next = seq %d, %v; want an immediate first frame", f.Seq, err)
	}
	waitsIdle(t, src, "nothing changed")

	// Next blocks, then wakes for the drawing.
	green := color.RGBA{0, 255, 0, 255}
	type result struct {
		f   Frame
		err error
	}
	got := make(chan result, 1)
	go func() {
		f, err := next(t, src, wait.Timeout)
		got <- result{f, err}
	}()
	waitBlocked(t, "Next to wait for damage", "(*x11Source).Next")
	if err := w.FillRect(image.Rect(500, 600, 520, 610), green); err != nil {
		t.Fatal(err)
	}
	r := wait.Recv(t, "Next to wake for the drawing", got)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if c := at(r.f, 510, 605); c != green {
		t.Errorf("after drawing, pixel = %v, want %v", c, green)
	}
	if c := at(r.f, 499, 605); c != (color.RGBA{A: 255}) {
		t.Errorf("pixel beside the drawing = %v, want black", c)
	}

	// Many changes before Next: one frame covers them all, and no stale
	// wake-up produces a second one.
	colours := []color.RGBA{{255, 0, 0, 255}, {0, 0, 255, 255}, {10, 20, 30, 255}}
	for i := range 12 {
		r := image.Rect(100*i, 20*i, 100*i+40, 20*i+40)
		if err := w.FillRect(r, colours[i%len(colours)]); err != nil {
			t.Fatal(err)
		}
	}
	f, err = next(t, src, wait.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if c := at(f, 100*i+20, 20*i+20); c != colours[i%len(colours)] {
			t.Errorf("change %d: pixel = %v, want %v", i, c, colours[i%len(colours)])
		}
	}
	if c := at(f, 510, 605); c != green {
		t.Errorf("rows outside the damaged band lost the earlier drawing: %v", c)
	}
	waitsIdle(t, src, "after a coalesced frame")

	// Grab resets the damage too.
	if err := w.FillRect(image.Rect(0, 1000, 10, 1010), green); err != nil {
		t.Fatal(err)
	}
	if f, err := src.Grab(); err != nil || at(f, 5, 1005) != green {
		t.Fatalf("Grab = %v, pixel %v", err, at(f, 5, 1005))
	}
	waitsIdle(t, src, "after Grab took the change")
}

func TestSelect(t *testing.T) {
	leak.Check(t)
	display := xclient.StartXvfb(t, 1920, 1080)
	w := xclient.OpenWindow(t, display, 0, 0, 1920, 1080)
	if err := w.DrawPattern(); err != nil {
		t.Fatal(err)
	}
	src := openX(t, display)
	all, err := src.Grab()
	if err != nil {
		t.Fatal(err)
	}
	allPix := append([]byte(nil), all.Pix...)
	if err := src.Select(0); err != nil {
		t.Fatal(err)
	}
	// A new selection gives a full frame at once.
	one, err := next(t, src, wait.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if one.Width != 1920 || one.Height != 1080 || string(one.Pix) != string(allPix) {
		t.Errorf("Select(0) frame %dx%d differs from the Select(-1) frame", one.Width, one.Height)
	}
	for _, bad := range []int{1, -2, 99} {
		if err := src.Select(bad); !errors.Is(err, ErrNoMonitor) {
			t.Errorf("Select(%d) = %v, want ErrNoMonitor", bad, err)
		}
	}
	waitsIdle(t, src, "a failed Select changes nothing")
}

func TestCloseUnblocksNext(t *testing.T) {
	leak.Check(t) // its cleanup runs last: after Xvfb is gone
	display := xclient.StartXvfb(t, 640, 480)
	src, err := Open(display)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := src.Next(context.Background())
		done <- err
	}()
	waitBlocked(t, "Next to wait for damage", "(*x11Source).Next")
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := wait.Recv(t, "Close to unblock Next", done); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close = %v, want ErrClosed", err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := src.Grab(); !errors.Is(err, ErrClosed) {
		t.Errorf("Grab after Close = %v, want ErrClosed", err)
	}
}

func TestOpenFailsWithoutServer(t *testing.T) {
	if _, err := Open(":4242"); err == nil {
		t.Fatal("Open of a display without a server succeeded")
	}
}

// BenchmarkGrab1080p measures one full 1920x1080 grab through MIT-SHM
// (the X server copying its framebuffer into the shared segment).
func BenchmarkGrab1080p(b *testing.B) {
	display := xclient.StartXvfb(b, 1920, 1080)
	w := xclient.OpenWindow(b, display, 0, 0, 1920, 1080)
	if err := w.DrawPattern(); err != nil {
		b.Fatal(err)
	}
	src := openX(b, display)
	if src.noShm {
		b.Fatal("MIT-SHM is not in use")
	}
	b.SetBytes(1920 * 1080 * 4)
	for b.Loop() {
		if _, err := src.Grab(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGrab1080pSocket is BenchmarkGrab1080p through the socket
// fallback (no MIT-SHM), for comparison.
func BenchmarkGrab1080pSocket(b *testing.B) {
	display := xclient.StartXvfb(b, 1920, 1080)
	src := openX(b, display)
	src.mu.Lock()
	src.noShm = true
	err := errors.Join(src.buf.close(true), func() error { src.buf = nil; return src.selectLocked(-1) }())
	src.mu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1920 * 1080 * 4)
	for b.Loop() {
		if _, err := src.Grab(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNextSmallDamage measures Next after a 64x64 change on a
// 1920x1080 screen (typing, a blinking cursor): fetching the damage and
// re-reading only the 64 rows it touched. The drawing is not timed.
func BenchmarkNextSmallDamage(b *testing.B) {
	display := xclient.StartXvfb(b, 1920, 1080)
	w := xclient.OpenWindow(b, display, 0, 0, 1920, 1080)
	src := openX(b, display)
	if _, err := src.Grab(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		r := image.Rect(i*64%1856, 500, i*64%1856+64, 564)
		if err := w.FillRect(r, color.RGBA{uint8(i), 0, 0, 255}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := src.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
