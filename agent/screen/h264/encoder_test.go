//go:build cgo && (linux || darwin) && !noopenh264

package h264

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen/h264/internal/h264dec"
)

const (
	fullW, fullH = 1920, 1080
	fps          = 30
)

// newTestEncoder returns an encoder whose clock advances one frame period
// per Encode, so rate control sees exactly fps frames per second however
// fast the test runs.
func newTestEncoder(tb testing.TB, o Options) *Encoder {
	tb.Helper()
	e, err := NewEncoder(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	e.clock = frameClock(o.FPS)
	return e
}

func frameClock(fps int) func() time.Time {
	now := time.Unix(1_700_000_000, 0)
	return func() time.Time {
		now = now.Add(time.Second / time.Duration(fps))
		return now
	}
}

func newDecoder(tb testing.TB) *h264dec.Decoder {
	tb.Helper()
	d, err := h264dec.New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Close)
	return d
}

// psnr is the peak signal-to-noise ratio of b against a, in dB.
func psnr(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255*float64(len(a))/se)
}

// TestEncodeStream is the 1080p stream check: a moving gradient with text,
// a forced keyframe on frame 30, every access unit well formed and decodable.
func TestEncodeStream(t *testing.T) {
	e := newTestEncoder(t, Options{Width: fullW, Height: fullH, FPS: fps, Bitrate: 4_000_000})
	d := newDecoder(t)
	pix := make([]byte, fullW*fullH*4)
	var emitted, decoded int
	idrPending := false // keyframe forced, IDR not seen yet
	for i := range 60 {
		drawScene(pix, fullW*4, fullW, fullH, i*4, 0)
		key := i == 30
		idrPending = idrPending || key
		au, err := e.Encode(pix, fullW*4, key)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if len(au) == 0 {
			if i == 0 {
				t.Fatal("first frame skipped")
			}
			continue // skipped by rate control
		}
		emitted++
		types, err := nalTypes(au)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		switch {
		case i == 0 || idrPending:
			if !slices.Equal(types, []int{7, 8, 5}) {
				t.Fatalf("frame %d (keyframe): NAL types %v, want [7 8 5]", i, types)
			}
			idrPending = false
		default:
			for _, ty := range types {
				if ty != 1 {
					t.Fatalf("frame %d: NAL types %v, want only non-IDR slices (1)", i, types)
				}
			}
		}
		if i == 0 {
			checkSPS(t, firstNAL(au, 7))
		}
		f, err := d.Decode(au)
		if err != nil {
			t.Fatalf("frame %d: decode: %v", i, err)
		}
		if f != nil {
			decoded++
			if f.Width != fullW || f.Height != fullH {
				t.Fatalf("frame %d decoded as %dx%d", i, f.Width, f.Height)
			}
		}
	}
	if idrPending {
		t.Fatal("keyframe forced on frame 30 never produced an IDR")
	}
	if decoded != emitted {
		t.Errorf("decoded %d pictures from %d access units", decoded, emitted)
	}
	// Full-screen motion at 4 Mbit/s: the rate controller may drop frames
	// after each IDR, but not most of them.
	if emitted < 40 {
		t.Errorf("only %d of 60 frames emitted", emitted)
	}
	t.Logf("%d of 60 frames emitted, all decoded", emitted)
}

// checkSPS asserts constrained baseline and logs the SDP profile-level-id.
func checkSPS(t *testing.T, sps []byte) {
	t.Helper()
	if len(sps) < 4 {
		t.Fatalf("SPS too short: % x", sps)
	}
	profile, flags, level := sps[1], sps[2], sps[3]
	if profile != 66 || flags&0x40 == 0 {
		t.Fatalf("SPS profile_idc %d constraint flags %08b: want 66 with constraint_set1 (constrained baseline)", profile, flags)
	}
	t.Logf("SPS profile-level-id %02x%02x%02x (level %d.%d)", profile, flags, level, level/10, level%10)
}

// TestStaticFramePSNR decodes a static frame and checks its luma against the
// source: the IDR alone, and after the rate controller's refinement.
func TestStaticFramePSNR(t *testing.T) {
	e := newTestEncoder(t, Options{Width: fullW, Height: fullH, FPS: fps, Bitrate: 4_000_000})
	d := newDecoder(t)
	pix := make([]byte, fullW*fullH*4)
	drawScene(pix, fullW*4, fullW, fullH, 0, 0)
	src := make([]byte, fullW*fullH*3/2)
	if err := bgraToI420(src, pix, fullW*4, fullW, fullH); err != nil {
		t.Fatal(err)
	}
	ySrc, uSrc := src[:fullW*fullH], src[fullW*fullH:fullW*fullH*5/4]
	var first, last *h264dec.Frame
	for i := range 90 {
		au, err := e.Encode(pix, fullW*4, false)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		f, err := d.Decode(au)
		if err != nil {
			t.Fatalf("frame %d: decode: %v", i, err)
		}
		if f != nil {
			if first == nil {
				first = f
			}
			last = f
		}
	}
	if first == nil {
		t.Fatal("nothing decoded")
	}
	idrY, lastY, lastU := psnr(ySrc, first.Y), psnr(ySrc, last.Y), psnr(uSrc, last.U)
	t.Logf("luma PSNR: IDR %.1f dB, after 3 s %.1f dB (chroma U %.1f dB)", idrY, lastY, lastU)
	if idrY < 30 {
		t.Errorf("IDR luma PSNR %.1f dB, want > 30", idrY)
	}
	if lastY < 35 || lastU < 30 {
		t.Errorf("refined PSNR Y %.1f / U %.1f dB, want > 35 / 30", lastY, lastU)
	}
}

// TestSetBitrate lowers the bitrate under full-screen motion, then raises it.
func TestSetBitrate(t *testing.T) {
	e := newTestEncoder(t, Options{Width: fullW, Height: fullH, FPS: fps, Bitrate: 4_000_000})
	pix := make([]byte, fullW*fullH*4)
	frame := 0
	avg := func() float64 { // mean access unit size over 30 frames, skips count as 0
		total := 0
		for range 30 {
			drawScene(pix, fullW*4, fullW, fullH, frame*4, 0)
			frame++
			au, err := e.Encode(pix, fullW*4, false)
			if err != nil {
				t.Fatal(err)
			}
			total += len(au)
		}
		return float64(total) / 30
	}
	avg() // the IDR and its aftermath
	high := avg()
	if err := e.SetBitrate(300_000); err != nil {
		t.Fatal(err)
	}
	low := avg()
	if err := e.SetBitrate(8_000_000); err != nil { // above the initial peak
		t.Fatal(err)
	}
	raised := avg()
	t.Logf("mean bytes/frame: 4 Mbit/s %.0f, 300 kbit/s %.0f, 8 Mbit/s %.0f", high, low, raised)
	if low > high/2 {
		t.Errorf("300 kbit/s averaged %.0f bytes/frame, 4 Mbit/s %.0f: want under half", low, high)
	}
	if raised < 2*low {
		t.Errorf("8 Mbit/s averaged %.0f bytes/frame, 300 kbit/s %.0f: want at least double", raised, low)
	}
}

// TestStaticFrameCheap: once the rate controller has refined a static
// picture, repeating it costs P-frames of skipped macroblocks. The
// refinement itself (the IDR's QP 32 stepping down towards 26) is bounded.
func TestStaticFrameCheap(t *testing.T) {
	e := newTestEncoder(t, Options{Width: fullW, Height: fullH, FPS: fps, Bitrate: 4_000_000})
	pix := make([]byte, fullW*fullH*4)
	drawScene(pix, fullW*4, fullW, fullH, 0, 0)
	encode := func() []byte {
		au, err := e.Encode(pix, fullW*4, false)
		if err != nil {
			t.Fatal(err)
		}
		return au
	}
	idr := len(encode())
	refine, n := 0, 0
	for ; n < 60; n++ { // two seconds
		size := len(encode())
		refine += size
		if size > 0 && size < idr/1000 {
			break
		}
	}
	if n == 60 {
		t.Fatalf("refinement of a static frame did not settle within 60 frames (%d bytes)", refine)
	}
	total := 0
	for range 30 {
		au := encode()
		if types, err := nalTypes(au); len(au) > 0 && (err != nil || !slices.Equal(types, []int{1})) {
			t.Fatalf("repeated frame: NAL types %v, %v; want [1]", types, err)
		}
		total += len(au)
	}
	mean := float64(total) / 30
	t.Logf("IDR %d bytes; refinement %d bytes over %d frames; then %.0f bytes/frame", idr, refine, n+1, mean)
	if mean >= float64(idr)/100 {
		t.Errorf("repeated static frame costs %.0f bytes, want under 1%% of the IDR (%d)", mean, idr)
	}
	if refine > idr {
		t.Errorf("refinement cost %d bytes, more than the IDR (%d)", refine, idr)
	}
}

// TestKeyInterval: periodic IDRs every KeyInterval frames, with SPS and PPS.
func TestKeyInterval(t *testing.T) {
	const w, h = 320, 240
	e := newTestEncoder(t, Options{Width: w, Height: h, FPS: fps, Bitrate: 2_000_000, KeyInterval: 10})
	pix := make([]byte, w*4*h)
	var idrs []int
	for i := range 35 {
		drawScene(pix, w*4, w, h, i*2, 0)
		au, err := e.Encode(pix, w*4, false)
		if err != nil {
			t.Fatal(err)
		}
		types, err := nalTypes(au)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if slices.Contains(types, 5) {
			if !slices.Equal(types, []int{7, 8, 5}) {
				t.Fatalf("frame %d: IDR without SPS/PPS: %v", i, types)
			}
			idrs = append(idrs, i)
		}
	}
	if want := []int{0, 10, 20, 30}; !slices.Equal(idrs, want) {
		t.Fatalf("IDRs at frames %v, want %v", idrs, want)
	}
}
