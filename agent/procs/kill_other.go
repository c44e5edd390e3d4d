//go:build !linux && !windows

package procs

import (
	"context"
	"errors"
)

// kill is not supported here: without a pidfd or a process handle a
// reused id cannot be told from the process the list showed.
func kill(context.Context, int32, int64, bool, func(string) error) error {
	return errors.ErrUnsupported
}
