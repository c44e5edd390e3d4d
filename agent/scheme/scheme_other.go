//go:build !linux && !windows

package scheme

import (
	"context"
	"errors"
	"fmt"
)

// Register is unsupported here: a macOS URL scheme is declared in an app
// bundle's Info.plist, which the agent does not ship.
func Register(context.Context, Config) (string, error) {
	return "", fmt.Errorf("scheme.Register: %w", errors.ErrUnsupported)
}

// Unregister is unsupported here, like Register.
func Unregister(context.Context, Config) error {
	return fmt.Errorf("scheme.Unregister: %w", errors.ErrUnsupported)
}
