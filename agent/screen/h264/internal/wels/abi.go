// Package wels calls OpenH264's encoder in a shared library loaded at run
// time (dlopen, or LoadLibrary on Windows), without cgo: the Windows agent
// is cross-compiled with CGO_ENABLED=0 and loads Cisco's
// openh264-2.3.1-win64.dll, and a Linux agent built without cgo can load
// the distribution's libopenh264.so.7.
//
// OpenH264's C API is a table of function pointers (ISVCEncoderVtbl)
// behind an object pointer; every entry takes the object as its first
// argument, which is also how the C++ virtual methods behind it are called
// on x86-64 (SysV and Microsoft ABIs alike). The structures below mirror
// codec_app_def.h and codec_def.h of OpenH264 2.3.1 field for field; on
// amd64 and arm64 Go lays them out as C does (no field is reordered, and
// Go's alignments of int32, uint16, bool, float32, int64 and pointers equal
// C's). A test compares every offset and size with the C compiler's, so a
// wrong mirror fails on Linux before it crashes an agent on Windows. Only
// versions whose structures were compared are loaded (see Supported).
package wels

import "unsafe"

// Array bounds from codec_app_def.h.
const (
	maxSpatialLayers = 4   // MAX_SPATIAL_LAYER_NUM
	maxLayersInFrame = 128 // MAX_LAYER_NUM_OF_FRAME
	maxSlicesTmp     = 35  // MAX_SLICES_NUM_TMP = (128 - (4*4 + 1 + 4)) / 3
)

// Enumerations used (values from the headers).
const (
	UsageCamera = 0 // CAMERA_VIDEO_REAL_TIME
	UsageScreen = 1 // SCREEN_CONTENT_REAL_TIME

	rcBitrateMode   = 1  // RC_BITRATE_MODE
	profileBaseline = 66 // PRO_BASELINE
	constantID      = 0  // CONSTANT_ID
	sliceSingle     = 0  // SM_SINGLE_SLICE
	sliceFixed      = 1  // SM_FIXEDSLCNUM_SLICE
	videoFormatI420 = 23 // videoFormatI420

	optionBitrate    = 5  // ENCODER_OPTION_BITRATE
	optionMaxBitrate = 6  // ENCODER_OPTION_MAX_BITRATE
	optionTraceLevel = 25 // ENCODER_OPTION_TRACE_LEVEL
	logQuiet         = 0  // WELS_LOG_QUIET

	spatialLayer0   = 0 // SPATIAL_LAYER_0
	spatialLayerAll = 4 // SPATIAL_LAYER_ALL
)

// Frame types (EVideoFrameType).
const (
	FrameInvalid = 0
	FrameIDR     = 1
	FrameI       = 2
	FrameP       = 3
	FrameSkip    = 4
)

// sliceArgument is SSliceArgument.
type sliceArgument struct {
	SliceMode           int32
	SliceNum            uint32
	SliceMbNum          [maxSlicesTmp]uint32
	SliceSizeConstraint uint32
}

// spatialLayerConfig is SSpatialLayerConfig.
type spatialLayerConfig struct {
	VideoWidth              int32
	VideoHeight             int32
	FrameRate               float32
	SpatialBitrate          int32
	MaxSpatialBitrate       int32
	ProfileIdc              int32
	LevelIdc                int32
	DLayerQp                int32
	SliceArgument           sliceArgument
	VideoSignalTypePresent  bool
	VideoFormat             uint8
	FullRange               bool
	ColorDescriptionPresent bool
	ColorPrimaries          uint8
	TransferCharacteristics uint8
	ColorMatrix             uint8
	AspectRatioPresent      bool
	AspectRatio             int32
	AspectRatioExtWidth     uint16
	AspectRatioExtHeight    uint16
}

// encParamExt is SEncParamExt.
type encParamExt struct {
	UsageType                 int32
	PicWidth                  int32
	PicHeight                 int32
	TargetBitrate             int32
	RCMode                    int32
	MaxFrameRate              float32
	TemporalLayerNum          int32
	SpatialLayerNum           int32
	SpatialLayers             [maxSpatialLayers]spatialLayerConfig
	ComplexityMode            int32
	IntraPeriod               uint32
	NumRefFrame               int32
	SpsPpsIDStrategy          int32
	PrefixNalAddingCtrl       bool
	EnableSSEI                bool
	SimulcastAVC              bool
	PaddingFlag               int32
	EntropyCodingModeFlag     int32
	EnableFrameSkip           bool
	MaxBitrate                int32
	MaxQp                     int32
	MinQp                     int32
	MaxNalSize                uint32
	EnableLongTermReference   bool
	LTRRefNum                 int32
	LtrMarkPeriod             uint32
	MultipleThreadIdc         uint16
	UseLoadBalancing          bool
	LoopFilterDisableIdc      int32
	LoopFilterAlphaC0Offset   int32
	LoopFilterBetaOffset      int32
	EnableDenoise             bool
	EnableBackgroundDetection bool
	EnableAdaptiveQuant       bool
	EnableFrameCroppingFlag   bool
	EnableSceneChangeDetect   bool
	IsLosslessLink            bool
	FixRCOverShoot            bool
	IdrBitrateRatio           int32
}

// sourcePicture is SSourcePicture.
type sourcePicture struct {
	ColorFormat int32
	Stride      [4]int32
	Data        [4]unsafe.Pointer
	PicWidth    int32
	PicHeight   int32
	TimeStamp   int64
}

// layerBSInfo is SLayerBSInfo. NalLengthInByte and BsBuf point into the
// encoder's own memory, valid until its next call.
type layerBSInfo struct {
	TemporalID      uint8
	SpatialID       uint8
	QualityID       uint8
	FrameType       int32
	LayerType       uint8
	SubSeqID        int32
	NalCount        int32
	NalLengthInByte unsafe.Pointer // int*
	BsBuf           unsafe.Pointer // unsigned char*
}

// frameBSInfo is SFrameBSInfo.
type frameBSInfo struct {
	LayerNum       int32
	LayerInfo      [maxLayersInFrame]layerBSInfo
	FrameType      int32
	FrameSizeBytes int32
	TimeStamp      int64
}

// bitrateInfo is SBitrateInfo.
type bitrateInfo struct {
	Layer   int32
	Bitrate int32
}

// version is OpenH264Version.
type version struct {
	Major, Minor, Revision, Reserved uint32
}

// vtable indices of ISVCEncoderVtbl.
const (
	vInitialize = iota
	vInitializeExt
	vGetDefaultParams
	vUninitialize
	vEncodeFrame
	vEncodeParameterSets
	vForceIntraFrame
	vSetOption
	vGetOption
	vtableLen
)
