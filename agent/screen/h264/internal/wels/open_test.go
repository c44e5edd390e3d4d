//go:build linux

package wels

import (
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	L, err := Open(DefaultLocation())
	if err != nil {
		t.Fatalf("Open(%s): %v (just deps installs libopenh264-7)", DefaultLocation(), err)
	}
	if !strings.HasPrefix(L.Version, "2.3.") {
		t.Errorf("Version %q", L.Version)
	}
	if _, err := Open("/nonexistent/libopenh264.so.7"); err == nil {
		t.Error("a missing library loaded")
	}
	// A real library that is not OpenH264.
	if _, err := Open("libc.so.6"); err == nil || !strings.Contains(err.Error(), "is it OpenH264") {
		t.Errorf("Open(libc.so.6) = %v, want the missing symbol named", err)
	}
}

func TestEncoderRejectsBadParams(t *testing.T) {
	L, err := Open(DefaultLocation())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := L.NewEncoder(Params{Width: 0, Height: 0, FPS: 30, Bitrate: 1_000_000, Usage: UsageScreen, Threads: 1, Slices: 1}); err == nil {
		t.Fatal("OpenH264 accepted a 0x0 picture")
	}
	e, err := L.NewEncoder(Params{Width: 64, Height: 64, FPS: 30, Bitrate: 100_000, Usage: UsageCamera, Threads: 1, Slices: 1})
	if err != nil {
		t.Fatal(err)
	}
	ft, au, err := e.Encode(true, 1)
	if err != nil || ft != FrameIDR || len(au) == 0 {
		t.Fatalf("first frame: type %d, %d bytes, %v", ft, len(au), err)
	}
	e.Close()
	e.Close() // idempotent
}
