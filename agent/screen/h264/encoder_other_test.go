//go:build !(cgo && (linux || darwin)) || noopenh264

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
	var z Encoder
	if _, err := z.Encode(make([]byte, 64), 16, false); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Encode = %v, want ErrUnsupported", err)
	}
	if err := z.SetBitrate(1_000_000); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SetBitrate = %v, want ErrUnsupported", err)
	}
}
