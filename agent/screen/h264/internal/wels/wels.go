package wels

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// lib is a loaded shared library: symbols, and calls through C function
// pointers with integer and pointer arguments.
type lib interface {
	sym(name string) (uintptr, error)
	call(fn uintptr, args ...uintptr) uintptr
}

// Supported lists the OpenH264 versions (major.minor) whose structures this
// package mirrors and whose offsets were compared with the C headers.
var Supported = []string{"2.3"}

// ErrVersion is returned by Open for a library of another version.
var ErrVersion = errors.New("wels: unsupported OpenH264 version")

// Library is a loaded OpenH264.
type Library struct {
	l       lib
	create  uintptr
	destroy uintptr
	// Version is the library's own, e.g. "2.3.1".
	Version string
}

// Open loads the OpenH264 library at path (an absolute path on Windows:
// a bare name is looked for in the current directory too) and checks its
// version.
func Open(path string) (*Library, error) {
	l, err := load(path)
	if err != nil {
		return nil, err
	}
	L := &Library{l: l}
	var ver uintptr
	for name, p := range map[string]*uintptr{"WelsCreateSVCEncoder": &L.create, "WelsDestroySVCEncoder": &L.destroy, "WelsGetCodecVersionEx": &ver} {
		if *p, err = l.sym(name); err != nil || *p == 0 {
			return nil, fmt.Errorf("%s has no %s: is it OpenH264? %v", path, name, err)
		}
	}
	v := new(version)
	l.call(ver, uintptr(unsafe.Pointer(v)))
	L.Version = fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Revision)
	mm := fmtVersion(int(v.Major), int(v.Minor))
	for _, s := range Supported {
		if s == mm {
			return L, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is %s; supported: %v", ErrVersion, path, L.Version, Supported)
}

func fmtVersion(major, minor int) string { return fmt.Sprintf("%d.%d", major, minor) }

// Params configures an encoder; see package h264 for the meaning of each
// choice (the same settings as its cgo encoder).
type Params struct {
	Width, Height, FPS, Bitrate, KeyInterval int
	Usage                                    int // UsageScreen or UsageCamera
	Threads, Slices, Complexity              int
}

// Encoder is one OpenH264 encoder. Its methods must not be called
// concurrently.
type Encoder struct {
	L    *Library
	obj  unsafe.Pointer // ISVCEncoder*
	vt   *[vtableLen]uintptr
	pic  *sourcePicture
	info *frameBSInfo
	yuv  []byte
}

// Status is a non-zero CM_RETURN from OpenH264.
type Status int

func (s Status) Error() string {
	switch s {
	case 1:
		return "invalid parameters"
	case 2:
		return "unknown reason"
	case 3:
		return "out of memory"
	case 4:
		return "not initialised"
	case 5:
		return "unsupported data"
	}
	return fmt.Sprintf("status %d", int(s))
}

// NewEncoder creates and initialises an encoder with the same settings as
// package h264's cgo encoder.
func (L *Library) NewEncoder(p Params) (*Encoder, error) {
	e := &Encoder{L: L, pic: new(sourcePicture), info: new(frameBSInfo)}
	if rc := int32(L.l.call(L.create, uintptr(unsafe.Pointer(&e.obj)))); rc != 0 || e.obj == nil {
		return nil, fmt.Errorf("WelsCreateSVCEncoder: %w", Status(rc))
	}
	e.vt = (*[vtableLen]uintptr)(*(*unsafe.Pointer)(e.obj))
	level := int32(logQuiet)
	e.callv(vSetOption, optionTraceLevel, uintptr(unsafe.Pointer(&level)))

	ep := new(encParamExt)
	e.callv(vGetDefaultParams, uintptr(unsafe.Pointer(ep)))
	w, h, bps := int32(p.Width), int32(p.Height), int32(p.Bitrate)
	ep.UsageType = int32(p.Usage)
	ep.PicWidth, ep.PicHeight = w, h
	ep.TargetBitrate, ep.MaxBitrate = bps, bps
	ep.RCMode = rcBitrateMode
	ep.MaxFrameRate = float32(p.FPS)
	ep.EnableFrameSkip = true
	ep.TemporalLayerNum, ep.SpatialLayerNum = 1, 1
	ep.ComplexityMode = int32(p.Complexity)
	ep.IntraPeriod = uint32(p.KeyInterval)
	ep.SpsPpsIDStrategy = constantID
	ep.PrefixNalAddingCtrl, ep.EnableSSEI, ep.SimulcastAVC = false, false, false
	ep.PaddingFlag = 0
	ep.EntropyCodingModeFlag = 0
	ep.EnableLongTermReference = false
	ep.MultipleThreadIdc = uint16(p.Threads)
	ep.UseLoadBalancing = false
	ep.EnableDenoise, ep.EnableBackgroundDetection, ep.EnableAdaptiveQuant = false, false, false
	ep.EnableSceneChangeDetect = true
	ep.EnableFrameCroppingFlag = true
	l := &ep.SpatialLayers[0]
	l.VideoWidth, l.VideoHeight = w, h
	l.FrameRate = float32(p.FPS)
	l.SpatialBitrate, l.MaxSpatialBitrate = bps, bps
	l.ProfileIdc = profileBaseline
	l.LevelIdc = 0 // derived from size, rate and bitrate
	l.SliceArgument.SliceMode, l.SliceArgument.SliceNum = sliceSingle, 1
	if p.Slices > 1 {
		l.SliceArgument.SliceMode, l.SliceArgument.SliceNum = sliceFixed, uint32(p.Slices)
	}
	if rc := e.callv(vInitializeExt, uintptr(unsafe.Pointer(ep))); rc != 0 {
		e.destroy()
		return nil, fmt.Errorf("InitializeExt: %w", Status(rc))
	}
	runtime.KeepAlive(ep)

	n := p.Width * p.Height
	e.yuv = make([]byte, n+2*(p.Width/2)*(p.Height/2))
	e.pic.ColorFormat = videoFormatI420
	e.pic.PicWidth, e.pic.PicHeight = w, h
	e.pic.Stride = [4]int32{w, w / 2, w / 2, 0}
	return e, nil
}

// callv calls vtable entry i with the encoder object first.
func (e *Encoder) callv(i int, args ...uintptr) int32 {
	return int32(e.L.l.call(e.vt[i], append([]uintptr{uintptr(e.obj)}, args...)...))
}

// Picture is the I420 buffer the next Encode reads: Y (Width*Height),
// then U and V (each Width/2*Height/2).
func (e *Encoder) Picture() []byte { return e.yuv }

// Encode encodes the picture in Picture() with timestamp ts (ms). It
// returns the frame type and the access unit as Annex-B NAL units, copied
// into a new slice (nil for a skipped frame).
func (e *Encoder) Encode(idr bool, ts int64) (int, []byte, error) {
	if idr {
		if rc := e.callv(vForceIntraFrame, 1); rc != 0 {
			return FrameInvalid, nil, fmt.Errorf("ForceIntraFrame: %w", Status(rc))
		}
	}
	w, h := int(e.pic.PicWidth), int(e.pic.PicHeight)
	var pin runtime.Pinner
	pin.Pin(&e.yuv[0])
	pin.Pin(e.pic)
	pin.Pin(e.info)
	defer pin.Unpin()
	e.pic.Data[0] = unsafe.Pointer(&e.yuv[0])
	e.pic.Data[1] = unsafe.Pointer(&e.yuv[w*h])
	e.pic.Data[2] = unsafe.Pointer(&e.yuv[w*h+(w/2)*(h/2)])
	e.pic.TimeStamp = ts
	*e.info = frameBSInfo{}
	if rc := e.callv(vEncodeFrame, uintptr(unsafe.Pointer(e.pic)), uintptr(unsafe.Pointer(e.info))); rc != 0 {
		return FrameInvalid, nil, fmt.Errorf("EncodeFrame: %w", Status(rc))
	}
	ft := int(e.info.FrameType)
	size := int(e.info.FrameSizeBytes)
	if ft == FrameInvalid || ft == FrameSkip || size <= 0 {
		return ft, nil, nil
	}
	au := make([]byte, 0, size)
	for i := range min(int(e.info.LayerNum), maxLayersInFrame) {
		l := &e.info.LayerInfo[i]
		if l.NalCount <= 0 || l.NalLengthInByte == nil || l.BsBuf == nil {
			continue
		}
		sz := 0
		for _, n := range unsafe.Slice((*int32)(l.NalLengthInByte), l.NalCount) {
			sz += int(n)
		}
		au = append(au, unsafe.Slice((*byte)(l.BsBuf), sz)...)
	}
	if len(au) != size {
		return FrameInvalid, nil, fmt.Errorf("access unit of %d bytes, layers hold %d", size, len(au))
	}
	return ft, au, nil
}

// SetBitrate moves the target and the cap from old to bps, in the order
// OpenH264's checks need (the cap never below the target).
func (e *Encoder) SetBitrate(old, bps int) error {
	layer := &bitrateInfo{Layer: spatialLayer0, Bitrate: int32(bps)}
	all := &bitrateInfo{Layer: spatialLayerAll, Bitrate: int32(bps)}
	set := func(opt int, b *bitrateInfo) error {
		if rc := e.callv(vSetOption, uintptr(opt), uintptr(unsafe.Pointer(b))); rc != 0 {
			return fmt.Errorf("SetOption(%d, %d): %w", opt, b.Bitrate, Status(rc))
		}
		return nil
	}
	steps := []func() error{
		func() error { return set(optionBitrate, all) },
		func() error { return set(optionMaxBitrate, layer) },
		func() error { return set(optionMaxBitrate, all) },
	}
	if bps > old {
		steps = []func() error{steps[1], steps[2], steps[0]}
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// Close uninitialises and destroys the encoder; it is idempotent.
func (e *Encoder) Close() {
	if e.obj == nil {
		return
	}
	e.callv(vUninitialize)
	e.destroy()
}

func (e *Encoder) destroy() {
	e.L.l.call(e.L.destroy, uintptr(e.obj))
	e.obj = nil
}
