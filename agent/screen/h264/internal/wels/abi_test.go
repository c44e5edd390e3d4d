//go:build cgo && linux

package wels

import (
	"reflect"
	"testing"

	"github.com/peerdesk/peerdesk/agent/screen/h264/internal/welsabi"
)

// TestLayoutMatchesC compares every mirrored structure's size and field
// offsets, and every constant, with what the C compiler makes of the
// installed OpenH264 headers. The Windows DLL is built from the same
// headers (Supported), and both x86-64 ABIs lay these types out alike.
func TestLayoutMatchesC(t *testing.T) {
	goTypes := map[string]any{
		"SSliceArgument":      sliceArgument{},
		"SSpatialLayerConfig": spatialLayerConfig{},
		"SEncParamExt":        encParamExt{},
		"SSourcePicture":      sourcePicture{},
		"SLayerBSInfo":        layerBSInfo{},
		"SFrameBSInfo":        frameBSInfo{},
		"SBitrateInfo":        bitrateInfo{},
		"OpenH264Version":     version{},
	}
	c := welsabi.Layouts()
	if len(c) != len(goTypes) {
		t.Fatalf("C reports %d structures, Go mirrors %d", len(c), len(goTypes))
	}
	for name, v := range goTypes {
		typ := reflect.TypeOf(v)
		want, ok := c[name]
		if !ok {
			t.Errorf("%s: no C layout", name)
			continue
		}
		if typ.Size() != want.Size {
			t.Errorf("%s: Go %s is %d bytes, C %d", name, typ.Name(), typ.Size(), want.Size)
		}
		if typ.NumField() != len(want.Offsets) {
			t.Errorf("%s: Go has %d fields, C %d", name, typ.NumField(), len(want.Offsets))
			continue
		}
		for i := range typ.NumField() {
			if f := typ.Field(i); f.Offset != want.Offsets[i] {
				t.Errorf("%s field %d (%s): Go offset %d, C %d", name, i, f.Name, f.Offset, want.Offsets[i])
			}
		}
	}
	goConsts := map[string]int{
		"CAMERA_VIDEO_REAL_TIME": UsageCamera, "SCREEN_CONTENT_REAL_TIME": UsageScreen,
		"RC_BITRATE_MODE": rcBitrateMode, "PRO_BASELINE": profileBaseline, "CONSTANT_ID": constantID,
		"SM_SINGLE_SLICE": sliceSingle, "SM_FIXEDSLCNUM_SLICE": sliceFixed, "videoFormatI420": videoFormatI420,
		"ENCODER_OPTION_BITRATE": optionBitrate, "ENCODER_OPTION_MAX_BITRATE": optionMaxBitrate,
		"ENCODER_OPTION_TRACE_LEVEL": optionTraceLevel, "WELS_LOG_QUIET": logQuiet,
		"SPATIAL_LAYER_0": spatialLayer0, "SPATIAL_LAYER_ALL": spatialLayerAll,
		"videoFrameTypeInvalid": FrameInvalid, "videoFrameTypeIDR": FrameIDR, "videoFrameTypeI": FrameI,
		"videoFrameTypeP": FrameP, "videoFrameTypeSkip": FrameSkip,
		"MAX_SPATIAL_LAYER_NUM": maxSpatialLayers, "MAX_LAYER_NUM_OF_FRAME": maxLayersInFrame,
		"MAX_SLICES_NUM_TMP": maxSlicesTmp,
	}
	cc := welsabi.Constants()
	for name, v := range goConsts {
		if got, ok := cc[name]; !ok || got != v {
			t.Errorf("%s: Go %d, C %d (known %v)", name, v, got, ok)
		}
	}
	// The installed headers are a supported version.
	major, minor := cc["OPENH264_MAJOR"], cc["OPENH264_MINOR"]
	found := false
	for _, s := range Supported {
		found = found || s == fmtVersion(major, minor)
	}
	if !found {
		t.Errorf("the headers are OpenH264 %d.%d, not one of %v: the comparison is of another version", major, minor, Supported)
	}
}
