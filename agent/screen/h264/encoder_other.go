//go:build !(cgo && (linux || darwin)) || noopenh264

package h264

import "fmt"

// Encoder is unavailable in this build; NewEncoder always fails with
// ErrUnsupported.
//
// What is missing: the only encoder implemented so far is OpenH264 through
// cgo (with libyuv for BGRA to I420), and this build has no cgo (Windows
// agents are cross-compiled with CGO_ENABLED=0), is not Linux or macOS, or
// was built with the noopenh264 tag.
//
// Planned path on Windows, without cgo: load the OpenH264 DLL at run time
// (Cisco's binary release, which also carries their patent licence for the
// binary) through golang.org/x/sys/windows LoadLibrary or purego, call the
// same C vtable as the cgo code, and do BGRA to I420 in Go or in the DLL's
// caller; or use Media Foundation's H.264 encoder MFT through COM, which is
// on every Windows 10/11 desktop and may be hardware accelerated.
type Encoder struct{}

// NewEncoder validates o and then fails with ErrUnsupported: this build has
// no H.264 encoder. Invalid options are reported as such first, so that a
// configuration bug is not mistaken for a missing platform feature.
func NewEncoder(o Options) (*Encoder, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("h264.NewEncoder: %w", err)
	}
	return nil, fmt.Errorf("h264.NewEncoder: %w", ErrUnsupported)
}

// Encode fails with ErrUnsupported; no Encoder can exist in this build.
func (e *Encoder) Encode(pix []byte, stride int, keyframe bool) ([]byte, error) {
	return nil, fmt.Errorf("h264.Encode: %w", ErrUnsupported)
}

// Repeat fails with ErrUnsupported; no Encoder can exist in this build.
func (e *Encoder) Repeat() ([]byte, error) {
	return nil, fmt.Errorf("h264.Repeat: %w", ErrUnsupported)
}

// SetBitrate fails with ErrUnsupported; no Encoder can exist in this build.
func (e *Encoder) SetBitrate(bps int) error {
	return fmt.Errorf("h264.SetBitrate: %w", ErrUnsupported)
}

// Close has nothing to release in this build and returns nil, as Close on a
// closed Encoder does in the OpenH264 build.
func (e *Encoder) Close() error { return nil }

// SetContent fails with ErrUnsupported; no Encoder can exist in this build.
func (e *Encoder) SetContent(Content) error {
	return fmt.Errorf("h264.SetContent: %w", ErrUnsupported)
}
