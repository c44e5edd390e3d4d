//go:build cgo && (linux || darwin) && !noopenh264

package h264

import (
	"bytes"
	"errors"
	"testing"

	"github.com/peerdesk/peerdesk/agent/screen/h264/internal/h264dec"
)

// TestRepeat: a repeat decodes to exactly the last picture, several in a
// row too, and the encoder's own frames after repeats still decode right
// (their frame numbers and reference stayed valid).
func TestRepeat(t *testing.T) {
	e := newTestEncoder(t, Options{Width: fullW, Height: fullH, FPS: fps, Bitrate: 4_000_000})
	if _, err := e.Repeat(); !errors.Is(err, ErrNoRepeat) {
		t.Fatalf("Repeat before any frame: %v, want ErrNoRepeat", err)
	}
	d := newDecoder(t)
	pix := make([]byte, fullW*fullH*4)
	src := make([]byte, fullW*fullH*3/2)
	var last *h264dec.Frame
	encode := func(shift int) {
		t.Helper()
		drawScene(pix, fullW*4, fullW, fullH, shift, shift)
		au, err := e.Encode(pix, fullW*4, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(au) == 0 {
			return // skipped by rate control
		}
		f, err := d.Decode(au)
		if err != nil {
			t.Fatalf("shift %d: %v", shift, err)
		}
		if f != nil {
			last = f
		}
	}
	repeat := func(what string) {
		t.Helper()
		au, err := e.Repeat()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(au) > 32 || au[4]&0x60 != 0 || au[4]&0x1f != nalSlice {
			t.Fatalf("%s: repeat is %d bytes, NAL header %#x; want a few bytes of non-reference slice", what, len(au), au[4])
		}
		f, err := d.Decode(au)
		if err != nil || f == nil {
			t.Fatalf("%s: decoding the repeat: %v (picture %v)", what, err, f != nil)
		}
		if !bytes.Equal(f.Y, last.Y) || !bytes.Equal(f.U, last.U) || !bytes.Equal(f.V, last.V) {
			t.Fatalf("%s: the repeat differs from the last picture (Y PSNR %.1f dB)", what, psnr(last.Y, f.Y))
		}
	}

	encode(0) // IDR
	repeat("after the IDR")
	repeat("a second repeat")
	for i := 1; i <= 20; i++ {
		encode(i * 3)
		if i%4 == 0 {
			repeat("between changes")
			repeat("and again")
		}
	}
	// After the repeats the encoder's frames still decode to the source.
	encode(70)
	encode(71)
	if err := bgraToI420(src, pix, fullW*4, fullW, fullH); err != nil {
		t.Fatal(err)
	}
	if p := psnr(src[:fullW*fullH], last.Y); p < 28 {
		t.Fatalf("after repeats, the encoder's picture decodes at %.1f dB luma PSNR", p)
	}
	// A forced IDR resets what repeats refer to.
	au, err := e.Encode(pix, fullW*4, true)
	if err != nil || len(au) == 0 {
		t.Fatal(err)
	}
	if last, err = d.Decode(au); err != nil || last == nil {
		t.Fatalf("decoding the IDR: %v", err)
	}
	repeat("after a forced IDR")
}
