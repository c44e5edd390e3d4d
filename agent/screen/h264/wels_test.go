//go:build cgo && linux && !noopenh264

package h264

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestWelsBackend runs the encoder's tests again on the backend that loads
// OpenH264 at run time without cgo (the Windows agent's, here loading
// Debian's libopenh264.so.7 instead of Cisco's DLL), and checks that it
// produces the very bytes the cgo build does.
func TestWelsBackend(t *testing.T) {
	L, err := welsLibrary()
	if err != nil {
		t.Fatalf("loading OpenH264 at run time: %v", err)
	}
	t.Logf("OpenH264 %s loaded without cgo", L.Version)
	openBackend = openWels
	t.Cleanup(func() { openBackend = defaultBackend })
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"NewEncoderEdges", TestNewEncoderEdges},
		{"OddScreenCropped", TestOddScreenCropped},
		{"EncodeErrors", TestEncodeErrors},
		{"ConcurrentUse", TestConcurrentUse},
		{"ForcedKeyframeOverBudget", TestForcedKeyframeOverBudget},
		{"EncodeStream", TestEncodeStream},
		{"StaticFramePSNR", TestStaticFramePSNR},
		{"SetBitrate", TestSetBitrate},
		{"StaticFrameCheap", TestStaticFrameCheap},
		{"KeyInterval", TestKeyInterval},
		{"Repeat", TestRepeat},
		{"SetContent", TestSetContent},
	} {
		t.Run(tc.name, tc.f)
	}

	// Same frames, same settings: the same stream, byte for byte (the Go
	// colour conversion equals libyuv's, and the encoder is the same
	// library).
	const w, h = 640, 360
	pix := make([]byte, w*h*4)
	encoders := map[string]*Encoder{}
	for name, open := range map[string]func(Options, tuning) (backend, error){"cgo": openCgo, "wels": openWels} {
		openBackend = open
		encoders[name] = newTestEncoder(t, Options{Width: w, Height: h, FPS: fps, Bitrate: 1_000_000})
	}
	for i := range 40 {
		drawScene(pix, w*4, w, h, i*3, i)
		a, err := encoders["cgo"].Encode(pix, w*4, i == 20)
		if err != nil {
			t.Fatal(err)
		}
		b, err := encoders["wels"].Encode(pix, w*4, i == 20)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("frame %d: cgo made %d bytes, wels %d, and they differ", i, len(a), len(b))
		}
	}
}

// TestBGRAToI420Go compares the Go conversion with libyuv's on a desktop
// scene, random pixels and the extremes.
func TestBGRAToI420Go(t *testing.T) {
	const w, h = 322, 184
	stride := w*4 + 8
	rng := rand.New(rand.NewPCG(1, 2))
	for name, fill := range map[string]func([]byte){
		"scene": func(p []byte) { drawScene(p, stride, w, h, 5, 7) },
		"random": func(p []byte) {
			for i := range p {
				p[i] = byte(rng.UintN(256))
			}
		},
		"white": func(p []byte) {
			for i := range p {
				p[i] = 255
			}
		},
		"black": func(p []byte) { clear(p) },
	} {
		pix := make([]byte, stride*h)
		fill(pix)
		want := make([]byte, w*h*3/2)
		if err := bgraToI420(want, pix, stride, w, h); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		bgraToI420Go(got, pix, stride, w, h)
		if !bytes.Equal(got, want) {
			worst, at := 0, 0
			for i := range got {
				if d := max(int(got[i])-int(want[i]), int(want[i])-int(got[i])); d > worst {
					worst, at = d, i
				}
			}
			t.Errorf("%s: the Go conversion differs from libyuv by up to %d (byte %d of %d)", name, worst, at, len(got))
		}
	}
}
