//go:build cgo && linux

// Package welsabi reports, from the C compiler, the layout of the OpenH264
// structures and the values of the constants that package wels mirrors in
// Go, so its test can compare them. It exists for that test only.
package welsabi

/*
#cgo pkg-config: openh264
#include <stddef.h>
#include <stdbool.h>
#include <wels/codec_api.h>
#include <wels/codec_ver.h>

typedef struct { const char *name; size_t size; int n; const size_t *off; } pd_layout;
typedef struct { const char *name; long value; } pd_enum;

static const size_t off_SSliceArgument[] = {offsetof(SSliceArgument, uiSliceMode), offsetof(SSliceArgument, uiSliceNum), offsetof(SSliceArgument, uiSliceMbNum), offsetof(SSliceArgument, uiSliceSizeConstraint)};
static const size_t off_SSpatialLayerConfig[] = {offsetof(SSpatialLayerConfig, iVideoWidth), offsetof(SSpatialLayerConfig, iVideoHeight), offsetof(SSpatialLayerConfig, fFrameRate), offsetof(SSpatialLayerConfig, iSpatialBitrate), offsetof(SSpatialLayerConfig, iMaxSpatialBitrate), offsetof(SSpatialLayerConfig, uiProfileIdc), offsetof(SSpatialLayerConfig, uiLevelIdc), offsetof(SSpatialLayerConfig, iDLayerQp), offsetof(SSpatialLayerConfig, sSliceArgument), offsetof(SSpatialLayerConfig, bVideoSignalTypePresent), offsetof(SSpatialLayerConfig, uiVideoFormat), offsetof(SSpatialLayerConfig, bFullRange), offsetof(SSpatialLayerConfig, bColorDescriptionPresent), offsetof(SSpatialLayerConfig, uiColorPrimaries), offsetof(SSpatialLayerConfig, uiTransferCharacteristics), offsetof(SSpatialLayerConfig, uiColorMatrix), offsetof(SSpatialLayerConfig, bAspectRatioPresent), offsetof(SSpatialLayerConfig, eAspectRatio), offsetof(SSpatialLayerConfig, sAspectRatioExtWidth), offsetof(SSpatialLayerConfig, sAspectRatioExtHeight)};
static const size_t off_SEncParamExt[] = {offsetof(SEncParamExt, iUsageType), offsetof(SEncParamExt, iPicWidth), offsetof(SEncParamExt, iPicHeight), offsetof(SEncParamExt, iTargetBitrate), offsetof(SEncParamExt, iRCMode), offsetof(SEncParamExt, fMaxFrameRate), offsetof(SEncParamExt, iTemporalLayerNum), offsetof(SEncParamExt, iSpatialLayerNum), offsetof(SEncParamExt, sSpatialLayers), offsetof(SEncParamExt, iComplexityMode), offsetof(SEncParamExt, uiIntraPeriod), offsetof(SEncParamExt, iNumRefFrame), offsetof(SEncParamExt, eSpsPpsIdStrategy), offsetof(SEncParamExt, bPrefixNalAddingCtrl), offsetof(SEncParamExt, bEnableSSEI), offsetof(SEncParamExt, bSimulcastAVC), offsetof(SEncParamExt, iPaddingFlag), offsetof(SEncParamExt, iEntropyCodingModeFlag), offsetof(SEncParamExt, bEnableFrameSkip), offsetof(SEncParamExt, iMaxBitrate), offsetof(SEncParamExt, iMaxQp), offsetof(SEncParamExt, iMinQp), offsetof(SEncParamExt, uiMaxNalSize), offsetof(SEncParamExt, bEnableLongTermReference), offsetof(SEncParamExt, iLTRRefNum), offsetof(SEncParamExt, iLtrMarkPeriod), offsetof(SEncParamExt, iMultipleThreadIdc), offsetof(SEncParamExt, bUseLoadBalancing), offsetof(SEncParamExt, iLoopFilterDisableIdc), offsetof(SEncParamExt, iLoopFilterAlphaC0Offset), offsetof(SEncParamExt, iLoopFilterBetaOffset), offsetof(SEncParamExt, bEnableDenoise), offsetof(SEncParamExt, bEnableBackgroundDetection), offsetof(SEncParamExt, bEnableAdaptiveQuant), offsetof(SEncParamExt, bEnableFrameCroppingFlag), offsetof(SEncParamExt, bEnableSceneChangeDetect), offsetof(SEncParamExt, bIsLosslessLink), offsetof(SEncParamExt, bFixRCOverShoot), offsetof(SEncParamExt, iIdrBitrateRatio)};
static const size_t off_SSourcePicture[] = {offsetof(SSourcePicture, iColorFormat), offsetof(SSourcePicture, iStride), offsetof(SSourcePicture, pData), offsetof(SSourcePicture, iPicWidth), offsetof(SSourcePicture, iPicHeight), offsetof(SSourcePicture, uiTimeStamp)};
static const size_t off_SLayerBSInfo[] = {offsetof(SLayerBSInfo, uiTemporalId), offsetof(SLayerBSInfo, uiSpatialId), offsetof(SLayerBSInfo, uiQualityId), offsetof(SLayerBSInfo, eFrameType), offsetof(SLayerBSInfo, uiLayerType), offsetof(SLayerBSInfo, iSubSeqId), offsetof(SLayerBSInfo, iNalCount), offsetof(SLayerBSInfo, pNalLengthInByte), offsetof(SLayerBSInfo, pBsBuf)};
static const size_t off_SFrameBSInfo[] = {offsetof(SFrameBSInfo, iLayerNum), offsetof(SFrameBSInfo, sLayerInfo), offsetof(SFrameBSInfo, eFrameType), offsetof(SFrameBSInfo, iFrameSizeInBytes), offsetof(SFrameBSInfo, uiTimeStamp)};
static const size_t off_SBitrateInfo[] = {offsetof(SBitrateInfo, iLayer), offsetof(SBitrateInfo, iBitrate)};
static const size_t off_OpenH264Version[] = {offsetof(OpenH264Version, uMajor), offsetof(OpenH264Version, uMinor), offsetof(OpenH264Version, uRevision), offsetof(OpenH264Version, uReserved)};
static const pd_layout layouts[] = {
	{"SSliceArgument", sizeof(SSliceArgument), 4, off_SSliceArgument},
	{"SSpatialLayerConfig", sizeof(SSpatialLayerConfig), 20, off_SSpatialLayerConfig},
	{"SEncParamExt", sizeof(SEncParamExt), 39, off_SEncParamExt},
	{"SSourcePicture", sizeof(SSourcePicture), 6, off_SSourcePicture},
	{"SLayerBSInfo", sizeof(SLayerBSInfo), 9, off_SLayerBSInfo},
	{"SFrameBSInfo", sizeof(SFrameBSInfo), 5, off_SFrameBSInfo},
	{"SBitrateInfo", sizeof(SBitrateInfo), 2, off_SBitrateInfo},
	{"OpenH264Version", sizeof(OpenH264Version), 4, off_OpenH264Version},
};
static const pd_enum enums[] = {
	{"CAMERA_VIDEO_REAL_TIME", (long)(CAMERA_VIDEO_REAL_TIME)},
	{"SCREEN_CONTENT_REAL_TIME", (long)(SCREEN_CONTENT_REAL_TIME)},
	{"RC_BITRATE_MODE", (long)(RC_BITRATE_MODE)},
	{"PRO_BASELINE", (long)(PRO_BASELINE)},
	{"CONSTANT_ID", (long)(CONSTANT_ID)},
	{"SM_SINGLE_SLICE", (long)(SM_SINGLE_SLICE)},
	{"SM_FIXEDSLCNUM_SLICE", (long)(SM_FIXEDSLCNUM_SLICE)},
	{"videoFormatI420", (long)(videoFormatI420)},
	{"ENCODER_OPTION_BITRATE", (long)(ENCODER_OPTION_BITRATE)},
	{"ENCODER_OPTION_MAX_BITRATE", (long)(ENCODER_OPTION_MAX_BITRATE)},
	{"ENCODER_OPTION_TRACE_LEVEL", (long)(ENCODER_OPTION_TRACE_LEVEL)},
	{"WELS_LOG_QUIET", (long)(WELS_LOG_QUIET)},
	{"SPATIAL_LAYER_0", (long)(SPATIAL_LAYER_0)},
	{"SPATIAL_LAYER_ALL", (long)(SPATIAL_LAYER_ALL)},
	{"videoFrameTypeInvalid", (long)(videoFrameTypeInvalid)},
	{"videoFrameTypeIDR", (long)(videoFrameTypeIDR)},
	{"videoFrameTypeI", (long)(videoFrameTypeI)},
	{"videoFrameTypeP", (long)(videoFrameTypeP)},
	{"videoFrameTypeSkip", (long)(videoFrameTypeSkip)},
	{"MAX_SPATIAL_LAYER_NUM", (long)(MAX_SPATIAL_LAYER_NUM)},
	{"MAX_LAYER_NUM_OF_FRAME", (long)(MAX_LAYER_NUM_OF_FRAME)},
	{"MAX_SLICES_NUM_TMP", (long)(MAX_SLICES_NUM_TMP)},
	{"OPENH264_MAJOR", (long)(OPENH264_MAJOR)},
	{"OPENH264_MINOR", (long)(OPENH264_MINOR)},
};

static int pd_nlayouts(void) { return sizeof layouts / sizeof layouts[0]; }
static pd_layout pd_layout_at(int i) { return layouts[i]; }
static int pd_nenums(void) { return sizeof enums / sizeof enums[0]; }
static pd_enum pd_enum_at(int i) { return enums[i]; }
*/
import "C"

import "unsafe"

// Layout is a C structure's size and its fields' offsets in declaration
// order.
type Layout struct {
	Size    uintptr
	Offsets []uintptr
}

// Layouts returns every mirrored structure by its C name.
func Layouts() map[string]Layout {
	m := map[string]Layout{}
	for i := range int(C.pd_nlayouts()) {
		l := C.pd_layout_at(C.int(i))
		offs := unsafe.Slice(l.off, int(l.n))
		lo := Layout{Size: uintptr(l.size)}
		for _, o := range offs {
			lo.Offsets = append(lo.Offsets, uintptr(o))
		}
		m[C.GoString(l.name)] = lo
	}
	return m
}

// Constants returns the C value of every mirrored constant by its C name.
func Constants() map[string]int {
	m := map[string]int{}
	for i := range int(C.pd_nenums()) {
		e := C.pd_enum_at(C.int(i))
		m[C.GoString(e.name)] = int(e.value)
	}
	return m
}
