package h264

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestChoose: Media Foundation first, OpenH264 the fallback, each reason
// for passing one over kept for the session's report; nothing usable is
// ErrUnsupported naming every reason.
func TestChoose(t *testing.T) {
	t.Parallel()
	noMFT := errors.New("no H.264 encoder is registered")
	noDLL := errors.New("loading openh264-2.3.1-win64.dll: not found")
	for _, tc := range []struct {
		name    string
		avail   map[Implementation]error
		want    Choice
		wantErr []string // substrings of the error; nil: no error
	}{
		{"windows, both usable", map[Implementation]error{MediaFoundation: nil, OpenH264: nil},
			Choice{Implementation: MediaFoundation}, nil},
		{"windows, no DLL", map[Implementation]error{MediaFoundation: nil, OpenH264: noDLL},
			Choice{Implementation: MediaFoundation}, nil},
		{"windows without the MFT (Wine 8)", map[Implementation]error{MediaFoundation: noMFT, OpenH264: nil},
			Choice{Implementation: OpenH264, PassedOver: []string{"Media Foundation: no H.264 encoder is registered"}}, nil},
		{"windows, neither", map[Implementation]error{MediaFoundation: noMFT, OpenH264: noDLL},
			Choice{}, []string{"Media Foundation: no H.264 encoder is registered", "OpenH264: loading openh264-2.3.1-win64.dll"}},
		{"linux", map[Implementation]error{OpenH264: nil},
			Choice{Implementation: OpenH264}, nil},
		{"linux without the library", map[Implementation]error{OpenH264: noDLL},
			Choice{}, []string{"OpenH264: loading"}},
		{"no encoder in this build", map[Implementation]error{}, Choice{}, []string{"no H.264 encoder"}},
	} {
		got, err := choose(tc.avail)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: choice (-want +got):\n%s", tc.name, diff)
		}
		switch {
		case tc.wantErr == nil && err != nil:
			t.Errorf("%s: error %v", tc.name, err)
		case tc.wantErr != nil && !errors.Is(err, ErrUnsupported):
			t.Errorf("%s: error %v, want ErrUnsupported", tc.name, err)
		}
		for _, s := range tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %v, want it to say %q", tc.name, err, s)
			}
		}
	}
}

func TestChoiceString(t *testing.T) {
	t.Parallel()
	for c, want := range map[*Choice]string{
		{Implementation: OpenH264, Detail: "2.3.1"}: "OpenH264 2.3.1",
		{Implementation: OpenH264, Detail: "2.3.1", PassedOver: []string{"Media Foundation: no H.264 encoder is registered"}}: "OpenH264 2.3.1 (not Media Foundation: no H.264 encoder is registered)",
		{Implementation: MediaFoundation}: "Media Foundation",
	} {
		if got := c.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
