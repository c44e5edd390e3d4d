//go:build noopenh264

package h264

import (
	"errors"
	"testing"
)

func TestNewEncoderUnsupported(t *testing.T) {
	e, err := NewEncoder(Options{Width: 1920, Height: 1080, FPS: 30, Bitrate: 4_000_000})
	if e != nil || !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("NewEncoder = %v, %v; want nil, ErrUnsupported", e, err)
	}
	if _, err := NewEncoder(Options{Width: 1921, Height: 1080, FPS: 30, Bitrate: 4_000_000}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("NewEncoder with an odd width = %v; want ErrInvalidOptions before ErrUnsupported", err)
	}
	var z Encoder
	if _, err := z.Encode(make([]byte, 64), 16, false); !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrClosed) {
		t.Errorf("Encode on a zero Encoder = %v, want ErrClosed", err)
	}
	if err := z.SetBitrate(1_000_000); !errors.Is(err, ErrClosed) {
		t.Errorf("SetBitrate on a zero Encoder = %v, want ErrClosed", err)
	}
}
