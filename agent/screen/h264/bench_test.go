//go:build cgo && (linux || darwin) && !noopenh264

package h264

import (
	"fmt"
	"testing"
	"time"
)

// Benchmarks report ms/frame (colour conversion included) at the nominal
// 30 fps cadence, plus the mean access unit size and the share of frames
// the rate controller skipped. Each starts after the IDR and, for static
// content, after the quality refinement that follows it.

// Each runs for both Content settings, as sub-benchmarks screen and camera.

func BenchmarkEncode1080pStatic(b *testing.B) {
	pix := make([]byte, fullW*fullH*4)
	drawScene(pix, fullW*4, fullW, fullH, 0, 0)
	eachContent(b, func(b *testing.B, c Content) { benchEncode(b, defaultTuning, c, 60, func(int) []byte { return pix }) })
}

// BenchmarkEncode1080pScrolling scrolls a screen of text 8 px per frame.
func BenchmarkEncode1080pScrolling(b *testing.B) {
	eachContent(b, func(b *testing.B, c Content) { benchEncode(b, defaultTuning, c, 1, scroller()) })
}

// BenchmarkEncode1080pTyping changes one glyph cell per frame, the
// commonest update of a remote desktop.
func BenchmarkEncode1080pTyping(b *testing.B) {
	eachContent(b, func(b *testing.B, c Content) { benchEncode(b, defaultTuning, c, 60, typist()) })
}

func eachContent(b *testing.B, f func(*testing.B, Content)) {
	for _, c := range []Content{Screen, Camera} {
		b.Run(c.String(), func(b *testing.B) { f(b, c) })
	}
}

// BenchmarkEncode1080pTuning compares thread, slice and complexity settings
// with the default (threads=1 slices=1 complexity=0).
func BenchmarkEncode1080pTuning(b *testing.B) {
	for _, t := range []tuning{
		{threads: 1, slices: 1, complexity: 0},
		{threads: 2, slices: 2, complexity: 0},
		{threads: 2, slices: 4, complexity: 0},
		{threads: 1, slices: 4, complexity: 0},
		{threads: 1, slices: 1, complexity: 1},
	} {
		name := fmt.Sprintf("threads=%d,slices=%d,complexity=%d", t.threads, t.slices, t.complexity)
		b.Run("scrolling/"+name, func(b *testing.B) { benchEncode(b, t, Screen, 1, scroller()) })
		b.Run("typing/"+name, func(b *testing.B) { benchEncode(b, t, Screen, 60, typist()) })
	}
}

func BenchmarkBGRAToI420_1080p(b *testing.B) {
	pix := make([]byte, fullW*fullH*4)
	drawScene(pix, fullW*4, fullW, fullH, 0, 0)
	dst := make([]byte, fullW*fullH*3/2)
	b.Run("libyuv", func(b *testing.B) {
		b.SetBytes(int64(len(pix)))
		for b.Loop() {
			if err := bgraToI420(dst, pix, fullW*4, fullW, fullH); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(msPerOp(b), "ms/frame")
	})
	// The conversion of builds without cgo (the Windows agent).
	b.Run("go", func(b *testing.B) {
		b.SetBytes(int64(len(pix)))
		for b.Loop() {
			bgraToI420Go(dst, pix, fullW*4, fullW, fullH)
		}
		b.ReportMetric(msPerOp(b), "ms/frame")
	})
}

// scroller returns frame i of a tall text document scrolled by 8*i px,
// wrapping every 120 frames; the frames share one buffer, as a capture ring
// would.
func scroller() func(int) []byte {
	const period = 120
	tall := make([]byte, fullW*4*(fullH+8*period))
	drawScene(tall, fullW*4, fullW, fullH+8*period, 0, 0)
	return func(i int) []byte {
		off := (i % period) * 8 * fullW * 4
		return tall[off : off+fullW*4*fullH]
	}
}

// typist returns frames of a static text screen in which one more glyph
// cell changes each frame.
func typist() func(int) []byte {
	pix := make([]byte, fullW*fullH*4)
	drawScene(pix, fullW*4, fullW, fullH, 0, 0)
	return func(i int) []byte {
		x, y := 300+(i%150)*8, 300+(i/150%40)*16
		for yy := y; yy < y+16; yy++ {
			row := pix[yy*fullW*4:]
			for xx := x; xx < x+6; xx++ {
				row[xx*4] ^= 0xff
				row[xx*4+1] ^= 0xff
			}
		}
		return pix
	}
}

func benchEncode(b *testing.B, t tuning, c Content, warmup int, frame func(int) []byte) {
	e, err := newEncoder(Options{Width: fullW, Height: fullH, FPS: fps, Bitrate: 4_000_000, Content: c}, t)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.clock = frameClock(fps)
	i := 0
	for ; i < warmup; i++ {
		if _, err := e.Encode(frame(i), fullW*4, false); err != nil {
			b.Fatal(err)
		}
	}
	var bytes, skipped int
	n := 0
	for b.Loop() {
		au, err := e.Encode(frame(i), fullW*4, false)
		if err != nil {
			b.Fatal(err)
		}
		i++
		n++
		bytes += len(au)
		if len(au) == 0 {
			skipped++
		}
	}
	b.ReportMetric(msPerOp(b), "ms/frame")
	b.ReportMetric(float64(bytes)/float64(n), "B/frame")
	b.ReportMetric(100*float64(skipped)/float64(n), "%skipped")
}

func msPerOp(b *testing.B) float64 {
	return float64(b.Elapsed()) / float64(b.N) / float64(time.Millisecond)
}
