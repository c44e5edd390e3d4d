//go:build cgo && (linux || darwin) && !noopenh264

package h264

import (
	"errors"
	"slices"
	"testing"
)

// TestSetContent switches a running stream between screen and camera
// coding: the frame after each switch is an IDR with new parameter sets,
// the one decoder the viewer has keeps decoding to the source, and repeats
// work in both.
func TestSetContent(t *testing.T) {
	const w, h = 640, 360
	e := newTestEncoder(t, Options{Width: w, Height: h, FPS: fps, Bitrate: 4_000_000})
	d := newDecoder(t)
	pix := make([]byte, w*h*4)
	src := make([]byte, w*h*3/2)
	shift := 0
	encode := func(what string) []int {
		t.Helper()
		shift += 4
		drawScene(pix, w*4, w, h, shift, shift)
		au, err := e.Encode(pix, w*4, false)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		types, err := nalTypes(au)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		f, err := d.Decode(au)
		if err != nil || f == nil {
			t.Fatalf("%s: decoding: %v (picture %v)", what, err, f != nil)
		}
		if err := bgraToI420(src, pix, w*4, w, h); err != nil {
			t.Fatal(err)
		}
		if p := psnr(src[:w*h], f.Y); p < 28 {
			t.Fatalf("%s: decodes at %.1f dB luma PSNR", what, p)
		}
		return types
	}
	encode("the first frame")
	for i := range 5 {
		encode("a screen frame " + string(rune('0'+i)))
	}
	for _, c := range []Content{Camera, Screen, Camera} {
		if err := e.SetContent(c); err != nil {
			t.Fatal(err)
		}
		if got := encode("the switch to " + c.String()); !slices.Equal(got, []int{nalSPS, nalPPS, nalIDR}) {
			t.Fatalf("the frame after switching to %v has NAL types %v, want SPS, PPS, IDR", c, got)
		}
		if e.Content() != c {
			t.Fatalf("Content() = %v after switching to %v", e.Content(), c)
		}
		for range 5 {
			if got := encode("a " + c.String() + " frame"); slices.Contains(got, nalIDR) {
				t.Fatalf("a %v frame after the switch is another IDR: %v", c, got)
			}
		}
		au, err := e.Repeat()
		if err != nil {
			t.Fatalf("repeat while coding for %v: %v", c, err)
		}
		if _, err := d.Decode(au); err != nil {
			t.Fatalf("decoding a %v repeat: %v", c, err)
		}
	}
	if err := e.SetContent(Camera); err != nil { // no change: no IDR
		t.Fatal(err)
	}
	if got := encode("the same content again"); slices.Contains(got, nalIDR) {
		t.Fatalf("setting the current content again forced an IDR: %v", got)
	}
	if err := e.SetContent(Content(7)); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("SetContent(7) = %v, want ErrInvalidOptions", err)
	}
	e.Close()
	if err := e.SetContent(Screen); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetContent after Close = %v, want ErrClosed", err)
	}
}
