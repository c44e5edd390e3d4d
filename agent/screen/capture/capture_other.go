//go:build !linux && !windows

package capture

// Open reports ErrUnsupported: this package has no capture for this
// operating system yet (macOS would use ScreenCaptureKit).
func Open(display string) (Source, error) {
	return nil, ErrUnsupported
}
