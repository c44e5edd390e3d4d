//go:build !(linux && cgo) && !windows

package input

import "fmt"

// New returns ErrUnsupported: this platform has no injector. macOS would
// use robotgo, whose macOS code needs cgo and the macOS SDK; Linux needs
// cgo for robotgo's Xlib calls.
func New(display string) (Injector, error) {
	return nil, fmt.Errorf("input.New: %w on this platform or without cgo", ErrUnsupported)
}
