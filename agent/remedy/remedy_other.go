//go:build !linux && !windows

package remedy

// osPlan: this OS has no command-line remediations yet (clear_temp,
// done in Go, works everywhere).
func osPlan(string) ([]Step, error) { return nil, ErrUnsupported }
