//go:build !linux && !darwin && !windows

package wels

import (
	"errors"
	"fmt"
)

// DefaultPath is empty: this platform cannot load OpenH264.
const DefaultPath = ""

func load(path string) (lib, error) {
	return nil, fmt.Errorf("loading %s: %w", path, errors.ErrUnsupported)
}

// DefaultLocation is empty: this platform cannot load OpenH264.
func DefaultLocation() string { return "" }
