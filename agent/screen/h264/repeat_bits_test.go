package h264

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// OpenH264's output for a 1920x1080 stream: SPS, PPS and the start of an
// IDR; then the start of the next P picture.
const (
	seedIDR = "000000016742c0288c8d403c0113f2c03c2211a80000000168ce3c800000000165b80004000008fffff87a28000805f93726e4e4e4e4e4e4e4e4e4e4e4e4e4e4"
	seedP   = "0000000161e0004000be408e001fe180"
)

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readRepeat parses a repeat access unit back.
func readRepeat(t testing.TB, s *streamState, au []byte) (frameNum, poc, skip uint) {
	t.Helper()
	nals := splitAnnexB(au)
	if len(nals) != 1 || nals[0][0] != nalSlice {
		t.Fatalf("repeat % x: want one non-reference slice NAL", au)
	}
	r := bitReader{b: unescape(nals[0][1:])}
	if r.ue() != 0 || r.ue() != 0 || r.ue() != s.ppsID {
		t.Fatalf("repeat % x: first_mb, slice_type or PPS id wrong", au)
	}
	frameNum, poc = r.u(s.log2MaxFrameNum), r.u(s.log2MaxPOCLsb)
	if r.u(1) != 0 || r.u(1) != 0 || r.se() != 0 {
		t.Fatalf("repeat % x: override, modification or QP delta set", au)
	}
	if s.deblockCtl && r.ue() != 1 {
		t.Fatalf("repeat % x: deblocking not disabled", au)
	}
	skip = r.ue()
	if r.bit() != 1 || r.err != nil {
		t.Fatalf("repeat % x: no stop bit (%v)", au, r.err)
	}
	for r.pos%8 != 0 {
		if r.bit() != 0 {
			t.Fatalf("repeat % x: alignment bits not zero", au)
		}
	}
	if r.pos != uint(len(r.b))*8 {
		t.Fatalf("repeat % x: %d bytes after the slice", au, len(r.b)-int(r.pos/8))
	}
	return frameNum, poc, skip
}

func TestRepeatFields(t *testing.T) {
	var s streamState
	if err := s.observe(mustHex(t, seedIDR)); err != nil {
		t.Fatal(err)
	}
	if s.log2MaxFrameNum != 15 || s.log2MaxPOCLsb != 16 || s.mbs != 120*68 || !s.deblockCtl {
		t.Fatalf("parsed %+v; want frame_num 15 bits, POC 16 bits, 120x68 macroblocks, deblocking control", s)
	}
	au, err := s.repeat()
	if err != nil {
		t.Fatal(err)
	}
	if fn, poc, skip := readRepeat(t, &s, au); fn != 1 || poc != 1 || skip != 120*68 {
		t.Fatalf("repeat after the IDR: frame_num %d POC %d skip %d; want 1 1 %d", fn, poc, skip, 120*68)
	}
	if err := s.observe(mustHex(t, seedP)); err != nil {
		t.Fatal(err)
	}
	au, _ = s.repeat() //nolint:errcheck // checked by readRepeat
	if fn, poc, _ := readRepeat(t, &s, au); fn != 2 || poc != 3 {
		t.Fatalf("repeat after P 1/2: frame_num %d POC %d; want 2 3", fn, poc)
	}
	// Counters wrap.
	s.frameNum, s.pocLsb = 1<<15-1, 1<<16-1
	au, _ = s.repeat() //nolint:errcheck // checked by readRepeat
	if fn, poc, _ := readRepeat(t, &s, au); fn != 0 || poc != 0 {
		t.Fatalf("repeat at the counters' ends: frame_num %d POC %d; want 0 0", fn, poc)
	}
	// A non-reference picture (a repeat fed back) changes nothing.
	before := s
	if err := s.observe(au); err != nil || s != before {
		t.Fatalf("observing a non-reference picture changed the state (%v)", err)
	}
}

func TestRepeatRefusesUnsupported(t *testing.T) {
	var s streamState
	// High profile SPS (profile_idc 100).
	idr := mustHex(t, seedIDR)
	idr[5] = 100
	if err := s.observe(idr); err == nil {
		t.Fatal("a High-profile SPS was accepted")
	}
	if _, err := s.repeat(); err != ErrNoRepeat {
		t.Fatalf("repeat after a refused SPS: %v", err)
	}
	// A P slice before any parameter set.
	if err := s.observe(mustHex(t, seedP)); err == nil {
		t.Fatal("a slice without parameter sets was accepted")
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, rbsp := range [][]byte{{0, 0, 0}, {0, 0, 1}, {0, 0, 2, 0, 0, 3}, {1, 0, 0, 0, 0, 4}, {0, 0}} {
		esc := escape(nil, rbsp)
		for i := 0; i+2 < len(esc); i++ {
			if esc[i] == 0 && esc[i+1] == 0 && esc[i+2] <= 2 {
				t.Fatalf("escape(% x) = % x holds a start code", rbsp, esc)
			}
		}
		if back := unescape(esc); !bytes.Equal(back, rbsp) {
			t.Fatalf("unescape(escape(% x)) = % x", rbsp, back)
		}
	}
}

func TestExpGolombRoundTrip(t *testing.T) {
	var w bitWriter
	vals := []uint{0, 1, 2, 3, 7, 8, 255, 8160, 1 << 20}
	for _, v := range vals {
		w.ue(v)
	}
	w.trailing()
	r := bitReader{b: w.b}
	for _, v := range vals {
		if got := r.ue(); got != v || r.err != nil {
			t.Fatalf("ue %d read back as %d (%v)", v, got, r.err)
		}
	}
}

// FuzzObserve: any bytes, as an encoder's output, neither panic nor leave a
// state whose repeat is malformed.
func FuzzObserve(f *testing.F) {
	f.Add(mustHex(f, seedIDR))
	f.Add(mustHex(f, seedP))
	f.Add(append(mustHex(f, seedIDR), mustHex(f, seedP)...))
	f.Add([]byte{0, 0, 1, 0x67, 0x42, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, au []byte) {
		var s streamState
		s.observe(au) //nolint:errcheck // any input
		out, err := s.repeat()
		if err != nil {
			return
		}
		_, _, skip := readRepeat(t, &s, out)
		if skip != s.mbs || skip == 0 {
			t.Fatalf("skip run %d for %d macroblocks", skip, s.mbs)
		}
	})
}
