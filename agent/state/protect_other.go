//go:build !unix && !windows

package state

import (
	"errors"
	"fmt"
)

func protect(dir string) error {
	return fmt.Errorf("%s: %w", dir, errors.ErrUnsupported)
}

func check(dir string) error {
	return fmt.Errorf("%s: %w", dir, errors.ErrUnsupported)
}
