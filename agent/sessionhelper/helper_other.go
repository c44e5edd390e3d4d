//go:build !windows

package sessionhelper

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
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

// Listen listens on a unix socket at name, readable and writable by its
// owner only: the stand-in for the Windows pipe, so that the service's
// side and the helper run, and are tested, on Linux too. A socket file
// left by an earlier run is replaced.
func Listen(name string) (net.Listener, error) {
	os.Remove(name)
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", name)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("sessionhelper.Listen %s: %w", name, err)
	}
	return l, nil
}

// Dial connects to the service's socket name.
func Dial(ctx context.Context, name string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", name)
	if err != nil {
		return nil, fmt.Errorf("sessionhelper.Dial %s: %w", name, err)
	}
	return c, nil
}
