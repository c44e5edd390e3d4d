//go:build !linux && !windows

package shell

import (
	"errors"
	"fmt"
)

func startProcess(spec) (process, error) {
	return nil, fmt.Errorf("shell: no terminal support on this system: %w", errors.ErrUnsupported)
}
