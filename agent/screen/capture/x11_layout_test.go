//go:build linux

package capture

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
)

func TestSelectMonitorArea(t *testing.T) {
	leak.Check(t)
	display := xclient.StartXvfb(t, 1920, 1080)
	w := xclient.OpenWindow(t, display, 0, 0, 1920, 1080)
	if err := w.DrawPattern(); err != nil {
		t.Fatal(err)
	}
	rc := xclient.NewRandR(t, display)
	rc.SetMonitor("left", image.Rect(0, 0, 960, 1080))
	rc.SetMonitor("right", image.Rect(960, 0, 1920, 1080))
	src := openX(t, display)
	ms, err := src.Monitors()
	if err != nil {
		t.Fatal(err)
	}
	want := []Monitor{
		{Index: 0, Name: "screen", Width: 1920, Height: 1080, Primary: true},
		{Index: 1, Name: "left", Width: 960, Height: 1080},
		{Index: 2, Name: "right", X: 960, Width: 960, Height: 1080},
	}
	if diff := cmp.Diff(want, ms); diff != "" {
		t.Fatalf("Monitors (-want +got):\n%s", diff)
	}

	if err := src.Select(2); err != nil {
		t.Fatal(err)
	}
	if n := len(src.buf.pix()); n != 960*1080*4 {
		t.Errorf("buffer of %d bytes for a 960x1080 area", n)
	}
	f, err := next(t, src, wait.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if f.Width != 960 || f.Height != 1080 || f.Stride != 960*4 {
		t.Fatalf("frame %dx%d stride %d, want 960x1080", f.Width, f.Height, f.Stride)
	}
	for _, p := range []image.Point{{0, 0}, {31, 5}, {500, 700}, {959, 1079}} {
		if got, want := at(f, p.X, p.Y), xclient.PatternColor(960+p.X, p.Y); got != want {
			t.Errorf("monitor pixel %v = %v, want %v", p, got, want)
		}
	}

	// Damage on the other monitor does not wake Next; damage on this one does.
	white := color.RGBA{255, 255, 255, 255}
	if err := w.FillRect(image.Rect(100, 100, 959, 900), white); err != nil {
		t.Fatal(err)
	}
	waitsIdle(t, src, "drawing on the other monitor")
	if err := w.FillRect(image.Rect(950, 500, 970, 510), white); err != nil {
		t.Fatal(err)
	}
	f, err = next(t, src, wait.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if got := at(f, 5, 505); got != white {
		t.Errorf("pixel drawn across the monitor edge = %v, want white", got)
	}

	// A layout change (the monitor shrinks) gives a full frame at the new
	// size in a new segment: the same path a resolution change takes.
	oldID := src.buf.(*shmBuf).id
	rc.DeleteMonitor("right")
	rc.SetMonitor("right", image.Rect(960, 0, 1760, 600))
	f, err = next(t, src, wait.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if f.Width != 800 || f.Height != 600 {
		t.Fatalf("after the monitor shrank, frame %dx%d, want 800x600", f.Width, f.Height)
	}
	if got, want := at(f, 100, 100), xclient.PatternColor(1060, 100); got != want {
		t.Errorf("pixel after the layout change = %v, want %v", got, want)
	}
	if _, err := unix.SysvShmCtl(oldID, unix.IPC_STAT, new(unix.SysvShmDesc)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("old segment still exists after the resize (IPC_STAT: %v)", err)
	}
}

func TestSegmentMarkedForRemoval(t *testing.T) {
	leak.Check(t)
	src := openX(t, xclient.StartXvfb(t, 640, 480))
	b, ok := src.buf.(*shmBuf)
	if !ok {
		t.Fatalf("buffer is %T, want MIT-SHM", src.buf)
	}
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(b.id, unix.IPC_STAT, &desc); err != nil {
		t.Fatal(err)
	}
	const shmDest = 0o1000 // SHM_DEST: removed once the last process detaches
	if desc.Perm.Mode&shmDest == 0 || desc.Perm.Mode&0o777 != 0o600 {
		t.Errorf("segment mode %#o: want SHM_DEST set and 0600", desc.Perm.Mode)
	}
	if desc.Nattch != 2 {
		t.Errorf("segment attached %d times, want 2 (this process and the X server)", desc.Nattch)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	// The server detaches asynchronously after its Detach request: wait
	// for the segment to vanish.
	wait.ForErr(t, "the segment to vanish after Close", func() error {
		_, err := unix.SysvShmCtl(b.id, unix.IPC_STAT, &desc)
		if errors.Is(err, unix.EINVAL) {
			return nil
		}
		return fmt.Errorf("segment still there (IPC_STAT: %v, attached %d)", err, desc.Nattch)
	})
}

func TestSocketFallbackMatchesShm(t *testing.T) {
	leak.Check(t)
	display := xclient.StartXvfb(t, 800, 600)
	w := xclient.OpenWindow(t, display, 10, 10, 700, 500)
	if err := w.DrawPattern(); err != nil {
		t.Fatal(err)
	}
	src := openX(t, display)
	shmFrame, err := src.Grab()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), shmFrame.Pix...)
	src.mu.Lock()
	src.noShm = true
	err = errors.Join(src.buf.close(true), func() error { src.buf = nil; return src.selectLocked(-1) }())
	src.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.buf.(*sockBuf); !ok {
		t.Fatalf("buffer is %T, want the socket fallback", src.buf)
	}
	f, err := next(t, src, wait.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Pix) != string(want) {
		t.Error("socket and MIT-SHM frames differ")
	}
	if err := w.FillRect(image.Rect(300, 300, 310, 310), color.RGBA{1, 2, 3, 255}); err != nil {
		t.Fatal(err)
	}
	if f, err := next(t, src, wait.Timeout); err != nil || at(f, 315, 315) != (color.RGBA{1, 2, 3, 255}) {
		t.Errorf("socket Next = %v, pixel %v", err, at(f, 315, 315))
	}
}

// TestResolutionChange resizes the screen through RandR. Xvfb 21.1 cannot:
// its RandR screen has one fixed mode, a maximum size equal to the initial
// one and no CRTC-set hook, so RRSetScreenSize fails (BadMatch/BadValue)
// and the test skips. The same re-layout path (event, new area, new
// segment, full frame) is exercised by TestSelectMonitorArea's monitor
// resize; this test runs for real on a server that can resize.
func TestResolutionChange(t *testing.T) {
	leak.Check(t)
	display := xclient.StartXvfb(t, 1920, 1080)
	src := openX(t, display)
	if _, err := next(t, src, wait.Timeout); err != nil {
		t.Fatal(err)
	}
	rc := xclient.NewRandR(t, display)
	if err := rc.SetScreenSize(1280, 720); err != nil {
		t.Skipf("this X server refuses a RandR resize (%v); see the comment", err)
	}
	f, err := next(t, src, wait.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if f.Width != 1280 || f.Height != 720 {
		t.Errorf("after the resize, frame %dx%d, want 1280x720", f.Width, f.Height)
	}
}
