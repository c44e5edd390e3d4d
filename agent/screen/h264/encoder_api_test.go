//go:build cgo && (linux || darwin) && !noopenh264

package h264

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestNewEncoderEdges encodes one frame at the edges of the limits.
func TestNewEncoderEdges(t *testing.T) {
	for _, o := range []Options{
		{Width: MinSize, Height: MinSize, FPS: 1, Bitrate: MinBitrate},
		{Width: 5120, Height: 1440, FPS: MaxFPS, Bitrate: MaxBitrate},
		{Width: 1366, Height: 768, FPS: 30, Bitrate: 300_000, KeyInterval: MaxKeyInterval},
	} {
		e := newTestEncoder(t, o)
		pix := make([]byte, o.Width*4*o.Height)
		drawScene(pix, o.Width*4, o.Width, o.Height, 0, 0)
		au, err := e.Encode(pix, o.Width*4, false)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if types, err := nalTypes(au); err != nil || !slices.Equal(types, []int{7, 8, 5}) {
			t.Fatalf("%+v: NAL types %v, %v", o, types, err)
		}
		if err := e.SetBitrate(MinBitrate); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Encode(pix, o.Width*4, false); err != nil {
			t.Fatalf("%+v after SetBitrate(MinBitrate): %v", o, err)
		}
		e.Close()
	}
}

// TestOddScreenCropped feeds a 1367x769 capture to a 1366x768 encoder.
func TestOddScreenCropped(t *testing.T) {
	const sw, sh = 1367, 769
	e := newTestEncoder(t, Options{Width: sw &^ 1, Height: sh &^ 1, FPS: fps, Bitrate: 2_000_000})
	d := newDecoder(t)
	stride := sw*4 + 12 // padded rows, as capture APIs return them
	pix := make([]byte, stride*sh)
	drawScene(pix, stride, sw, sh, 0, 0)
	au, err := e.Encode(pix[:stride*(sh-1)+(sw&^1)*4], stride, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Decode(au)
	if err != nil || f == nil {
		t.Fatalf("decode: %v, %v", f, err)
	}
	if f.Width != sw&^1 || f.Height != sh&^1 {
		t.Fatalf("decoded %dx%d, want %dx%d", f.Width, f.Height, sw&^1, sh&^1)
	}
}

func TestEncodeErrors(t *testing.T) {
	const w, h = 64, 48
	e := newTestEncoder(t, Options{Width: w, Height: h, FPS: fps, Bitrate: 100_000})
	pix := make([]byte, w*4*h)
	for _, tt := range []struct {
		pix    []byte
		stride int
	}{
		{pix, w*4 - 4},
		{pix[:len(pix)-1], w * 4},
		{nil, w * 4},
		{pix, -w * 4},
	} {
		if _, err := e.Encode(tt.pix, tt.stride, false); !errors.Is(err, ErrBadFrame) {
			t.Errorf("Encode(%d bytes, stride %d) = %v, want ErrBadFrame", len(tt.pix), tt.stride, err)
		}
	}
	for _, bps := range []int{0, -5, MinBitrate - 1, MaxBitrate + 1} {
		if err := e.SetBitrate(bps); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("SetBitrate(%d) = %v, want ErrInvalidOptions", bps, err)
		}
	}
	if _, err := e.Encode(pix, w*4, false); err != nil {
		t.Fatalf("Encode after rejected calls: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := e.Encode(pix, w*4, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Encode after Close = %v, want ErrClosed", err)
	}
	if err := e.SetBitrate(200_000); !errors.Is(err, ErrClosed) {
		t.Errorf("SetBitrate after Close = %v, want ErrClosed", err)
	}
	var zero Encoder
	if _, err := zero.Encode(pix, w*4, false); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Encoder: Encode = %v, want ErrClosed", err)
	}
	if err := zero.SetBitrate(200_000); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Encoder: SetBitrate = %v, want ErrClosed", err)
	}
}

// TestConcurrentUse runs SetBitrate, keyframe requests and Close against a
// running Encode loop; run with -race.
func TestConcurrentUse(t *testing.T) {
	const w, h = 320, 240
	e := newTestEncoder(t, Options{Width: w, Height: h, FPS: fps, Bitrate: 500_000})
	pix := make([]byte, w*4*h)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := e.SetBitrate(200_000 + i%5*100_000); err != nil && !errors.Is(err, ErrClosed) {
				t.Error(err)
				return
			}
		}
	})
	for i := range 100 {
		drawScene(pix, w*4, w, h, i*8, i)
		if _, err := e.Encode(pix, w*4, i%25 == 0); err != nil {
			t.Fatal(err)
		}
	}
	wg.Go(func() { e.Close() })
	close(stop)
	wg.Wait()
	if _, err := e.Encode(pix, w*4, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("Encode after concurrent Close = %v", err)
	}
}

func ExampleEncoder() {
	enc, err := NewEncoder(Options{Width: 1280, Height: 720, FPS: 30, Bitrate: 2_500_000})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer enc.Close()
	frame := make([]byte, 1280*720*4) // BGRA from the capturer
	au, err := enc.Encode(frame, 1280*4, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Hand au to pion: track.WriteSample(media.Sample{Data: au, Duration: ...}).
	fmt.Printf("% x\n", au[:5]) // start code, then the SPS's NAL header
	// Output: 00 00 00 01 67
}

// TestForcedKeyframeOverBudget: OpenH264 sends a forced IDR at once even
// while its rate controller is still paying for the previous one, so a PLI
// storm costs a full IDR per request (the package doc says to rate-limit).
func TestForcedKeyframeOverBudget(t *testing.T) {
	e := newTestEncoder(t, Options{Width: fullW, Height: fullH, FPS: fps, Bitrate: 300_000})
	pix := make([]byte, fullW*fullH*4)
	var sizes []int
	for i := range 3 {
		drawScene(pix, fullW*4, fullW, fullH, i*4, 0)
		au, err := e.Encode(pix, fullW*4, i > 0)
		if err != nil {
			t.Fatal(err)
		}
		if types, err := nalTypes(au); err != nil || !slices.Equal(types, []int{7, 8, 5}) {
			t.Fatalf("frame %d (keyframe): NAL types %v, %v; want [7 8 5]", i, types, err)
		}
		sizes = append(sizes, len(au))
	}
	t.Logf("three IDRs at 300 kbit/s: %v bytes", sizes)
}
