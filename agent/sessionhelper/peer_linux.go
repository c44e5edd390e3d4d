package sessionhelper

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// ClientPID returns the process id of the client at the other end of a
// connection Listen accepted (SO_PEERCRED), for the service to compare
// with the helper it launched.
func ClientPID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, errors.New("sessionhelper.ClientPID: not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sessionhelper.ClientPID: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("sessionhelper.ClientPID: %w", err)
	}
	if serr != nil {
		return 0, fmt.Errorf("sessionhelper.ClientPID: %w", serr)
	}
	return uint32(cred.Pid), nil
}
