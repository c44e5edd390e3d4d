//go:build !linux && !windows

package sessionhelper

import (
	"errors"
	"fmt"
	"net"
)

// ClientPID is implemented on Windows (named pipes) and Linux (SO_PEERCRED).
func ClientPID(net.Conn) (uint32, error) {
	return 0, fmt.Errorf("sessionhelper.ClientPID: %w", errors.ErrUnsupported)
}
