//go:build !windows

package sessionhelper

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// Sessions is Windows only: other systems have no WTS sessions.
func Sessions() (Snapshot, error) {
	return Snapshot{}, fmt.Errorf("sessionhelper.Sessions: %w", errors.ErrUnsupported)
}

// Process is a launched helper (Windows only).
type Process struct{ PID uint32 }

// Wait is Windows only.
func (*Process) Wait() (uint32, error) { return 0, errors.ErrUnsupported }

// Kill is Windows only.
func (*Process) Kill() error { return errors.ErrUnsupported }

// Close is Windows only.
func (*Process) Close() error { return errors.ErrUnsupported }

// Launch is Windows only.
func Launch(Want, string, ...string) (*Process, error) {
	return nil, fmt.Errorf("sessionhelper.Launch: %w", errors.ErrUnsupported)
}

// SessionOf is Windows only.
func SessionOf(uint32) (uint32, error) {
	return 0, fmt.Errorf("sessionhelper.SessionOf: %w", errors.ErrUnsupported)
}

// Listen is Windows only (named pipes).
func Listen(string) (net.Listener, error) {
	return nil, fmt.Errorf("sessionhelper.Listen: %w", errors.ErrUnsupported)
}

// Dial is Windows only (named pipes).
func Dial(context.Context, string) (net.Conn, error) {
	return nil, fmt.Errorf("sessionhelper.Dial: %w", errors.ErrUnsupported)
}

// ClientPID is Windows only (named pipes).
func ClientPID(net.Conn) (uint32, error) {
	return 0, fmt.Errorf("sessionhelper.ClientPID: %w", errors.ErrUnsupported)
}
