package h264

import (
	"errors"
	"fmt"
)

// Repeating a picture without encoding it.
//
// A still screen still needs a frame every few seconds: the browser asks
// for a keyframe when it has decoded nothing for 3 s. Encoding the unchanged
// picture again costs OpenH264 13–16 ms at 1080p (its screen analysis runs
// over the whole frame whatever changed), so a repeat is written here
// instead, in microseconds: one P slice whose every macroblock is skipped
// (mb_skip_run = PicSizeInMbs: "copy the reference picture"), as a
// non-reference picture (nal_ref_idc 0), so that the encoder's own next
// frame numbers stay valid:
//
//   - frame_num is the last reference picture's plus one, as a non-reference
//     picture's must be, and as the encoder's next reference picture's will
//     be (7.4.3: non-reference pictures do not advance PrevRefFrameNum);
//   - pic_order_cnt_lsb is the last reference picture's plus one: OpenH264
//     counts in steps of two, so the repeat sits between the last picture
//     and the next in output order (repeats of the same picture share it);
//   - the default reference list holds the last reference picture first.
//
// This needs the stream's parameters, so streamState reads every SPS, PPS
// and first slice header the encoder emits. Only what OpenH264's
// constrained-baseline output uses is supported (pic_order_cnt_type 0,
// CAVLC, frame macroblocks only, one slice group, no weighted prediction,
// one default reference); anything else disables repeats (ErrNoRepeat) and
// the caller encodes instead. No library writes H.264 slices (parsers such
// as mediacommon's read the SPS only), hence the bit reader and writer here.

// ErrNoRepeat means Repeat cannot write a repeat picture for this stream
// (none encoded since the last IDR, or a parameter it does not support).
var ErrNoRepeat = errors.New("h264: no repeat picture for this stream")

// NAL unit types used here.
const (
	nalSlice = 1
	nalIDR   = 5
	nalSPS   = 7
	nalPPS   = 8
)

// streamState follows one encoder's output.
type streamState struct {
	// From the SPS.
	spsOK           bool
	log2MaxFrameNum uint
	log2MaxPOCLsb   uint
	mbs             uint // PicSizeInMbs
	// From the PPS.
	ppsOK      bool
	ppsID      uint
	deblockCtl bool // deblocking_filter_control_present_flag
	// From the last reference picture's slice header.
	refOK    bool
	frameNum uint
	pocLsb   uint
}

// observe reads the parameter sets and the first slice header of an access
// unit in Annex-B form. A malformed or unsupported unit leaves the state
// unable to repeat until the next IDR with parameter sets it understands.
func (s *streamState) observe(au []byte) error {
	var err error
	for _, nal := range splitAnnexB(au) {
		if len(nal) < 2 {
			continue
		}
		refIdc, typ := nal[0]>>5&3, nal[0]&0x1f
		rbsp := unescape(nal[1:])
		switch typ {
		case nalSPS:
			err = s.readSPS(rbsp)
		case nalPPS:
			err = s.readPPS(rbsp)
		case nalSlice, nalIDR:
			if refIdc != 0 {
				err = s.readSlice(rbsp, typ == nalIDR)
			}
		default:
			continue
		}
		if err != nil {
			s.spsOK, s.ppsOK, s.refOK = false, false, false
			return err
		}
		if typ == nalSlice || typ == nalIDR {
			return nil // one slice per picture: the first one tells all
		}
	}
	return nil
}

func (s *streamState) readSPS(b []byte) error {
	r := bitReader{b: b}
	profile := r.u(8)
	r.u(16) // constraint flags, level
	r.ue()  // seq_parameter_set_id
	switch profile {
	case 66, 77, 88: // baseline, main, extended: no chroma/bit-depth fields
	default:
		return fmt.Errorf("h264: SPS profile_idc %d is not supported for repeats", profile)
	}
	maxFrameNum := r.ue() + 4
	pocType := r.ue()
	if pocType != 0 {
		return fmt.Errorf("h264: pic_order_cnt_type %d is not supported for repeats", pocType)
	}
	maxPOC := r.ue() + 4
	r.ue() // max_num_ref_frames
	r.u(1) // gaps_in_frame_num_value_allowed_flag
	w := r.ue() + 1
	h := r.ue() + 1
	frameOnly := r.u(1)
	if r.err != nil {
		return fmt.Errorf("h264: SPS: %w", r.err)
	}
	if frameOnly != 1 || maxFrameNum > 16 || maxPOC > 16 || w > 1<<10 || h > 1<<10 {
		return errors.New("h264: SPS outside what repeats support")
	}
	s.spsOK, s.log2MaxFrameNum, s.log2MaxPOCLsb, s.mbs = true, maxFrameNum, maxPOC, w*h
	s.refOK = false
	return nil
}

func (s *streamState) readPPS(b []byte) error {
	r := bitReader{b: b}
	id := r.ue()
	r.ue() // seq_parameter_set_id
	cabac := r.u(1)
	bottomField := r.u(1)
	sliceGroups := r.ue()
	refL0 := r.ue()
	r.ue() // num_ref_idx_l1_default_active_minus1
	weighted := r.u(1)
	r.u(2) // weighted_bipred_idc
	r.se() // pic_init_qp_minus26
	r.se() // pic_init_qs_minus26
	r.se() // chroma_qp_index_offset
	deblock := r.u(1)
	r.u(1) // constrained_intra_pred_flag
	redundant := r.u(1)
	if r.err != nil {
		return fmt.Errorf("h264: PPS: %w", r.err)
	}
	if cabac != 0 || bottomField != 0 || sliceGroups != 0 || refL0 != 0 || weighted != 0 || redundant != 0 || id > 255 {
		return errors.New("h264: PPS outside what repeats support")
	}
	s.ppsOK, s.ppsID, s.deblockCtl = true, id, deblock == 1
	return nil
}

func (s *streamState) readSlice(b []byte, idr bool) error {
	if !s.spsOK || !s.ppsOK {
		return errors.New("h264: a slice before its parameter sets")
	}
	r := bitReader{b: b}
	r.ue() // first_mb_in_slice
	r.ue() // slice_type
	if pps := r.ue(); pps != s.ppsID && r.err == nil {
		return fmt.Errorf("h264: slice refers to PPS %d, not %d", pps, s.ppsID)
	}
	frameNum := r.u(s.log2MaxFrameNum)
	if idr {
		r.ue() // idr_pic_id
	}
	poc := r.u(s.log2MaxPOCLsb)
	if r.err != nil {
		return fmt.Errorf("h264: slice header: %w", r.err)
	}
	s.refOK, s.frameNum, s.pocLsb = true, frameNum, poc
	return nil
}

// repeat writes an access unit that shows the last reference picture again.
func (s *streamState) repeat() ([]byte, error) {
	if !s.spsOK || !s.ppsOK || !s.refOK {
		return nil, ErrNoRepeat
	}
	var w bitWriter
	w.ue(0)       // first_mb_in_slice
	w.ue(0)       // slice_type: P
	w.ue(s.ppsID) // pic_parameter_set_id
	w.u((s.frameNum+1)&(1<<s.log2MaxFrameNum-1), s.log2MaxFrameNum)
	w.u((s.pocLsb+1)&(1<<s.log2MaxPOCLsb-1), s.log2MaxPOCLsb)
	w.u(0, 1) // num_ref_idx_active_override_flag
	w.u(0, 1) // ref_pic_list_modification_flag_l0
	// nal_ref_idc 0: no dec_ref_pic_marking; CAVLC: no cabac_init_idc.
	w.ue(0) // slice_qp_delta
	if s.deblockCtl {
		w.ue(1) // disable_deblocking_filter_idc: nothing to filter
	}
	w.ue(s.mbs) // mb_skip_run: every macroblock
	w.trailing()
	out := []byte{0, 0, 0, 1, 0<<5 | nalSlice}
	return escape(out, w.b), nil
}

// splitAnnexB returns the NAL units of b (start codes of 3 or 4 bytes).
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end--
				}
				nals = append(nals, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		nals = append(nals, b[start:])
	}
	return nals
}

// unescape removes emulation prevention bytes (00 00 03 → 00 00).
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// escape appends rbsp to dst with emulation prevention bytes.
func escape(dst, rbsp []byte) []byte {
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

var errShort = errors.New("truncated")

// bitReader reads RBSP bits; past the end it records errShort and returns 0.
type bitReader struct {
	b   []byte
	pos uint // in bits
	err error
}

func (r *bitReader) bit() uint {
	if r.pos >= uint(len(r.b))*8 {
		r.err = errShort
		return 0
	}
	v := uint(r.b[r.pos/8]>>(7-r.pos%8)) & 1
	r.pos++
	return v
}

func (r *bitReader) u(n uint) uint {
	var v uint
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an Exp-Golomb code of at most 32 leading zeros.
func (r *bitReader) ue() uint {
	zeros := uint(0)
	for r.bit() == 0 {
		if r.err != nil || zeros == 32 {
			r.err = errors.New("bad Exp-Golomb code")
			return 0
		}
		zeros++
	}
	return 1<<zeros - 1 + r.u(zeros)
}

func (r *bitReader) se() int {
	k := r.ue()
	if k&1 == 1 {
		return int(k+1) / 2
	}
	return -int(k / 2)
}

// bitWriter writes RBSP bits.
type bitWriter struct {
	b []byte
	n uint // bits used in the last byte (0 means a new byte is needed)
}

func (w *bitWriter) bit(v uint) {
	if w.n == 0 {
		w.b = append(w.b, 0)
	}
	w.b[len(w.b)-1] |= byte(v&1) << (7 - w.n)
	w.n = (w.n + 1) % 8
}

func (w *bitWriter) u(v, n uint) {
	for i := n; i > 0; i-- {
		w.bit(v >> (i - 1))
	}
}

func (w *bitWriter) ue(v uint) {
	x := v + 1
	n := uint(0)
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.u(0, n)
	w.u(x, n+1)
}

// trailing writes rbsp_stop_one_bit and aligns to a byte.
func (w *bitWriter) trailing() {
	w.bit(1)
	for w.n != 0 {
		w.bit(0)
	}
}
