//go:build windows

package sessionhelper

import (
	"context"
	"errors"
	"fmt"
	"net"

	winio "github.com/tailscale/go-winio"
	"golang.org/x/sys/windows"
)

// Listen listens on the named pipe name (PipeName in the agent) with
// [PipeSDDL]. It fails if the pipe exists already (another process took
// the name first: FILE_FLAG_FIRST_PIPE_INSTANCE), so a squatter cannot
// sit between the service and its helpers.
func Listen(name string) (net.Listener, error) {
	l, err := winio.ListenPipe(name, &winio.PipeConfig{
		SecurityDescriptor: PipeSDDL,
		InputBufferSize:    64 << 10,
		OutputBufferSize:   64 << 10,
	})
	if err != nil {
		return nil, fmt.Errorf("sessionhelper.Listen %s: %w", name, err)
	}
	return l, nil
}

// Dial connects to the service's pipe name.
func Dial(ctx context.Context, name string) (net.Conn, error) {
	c, err := winio.DialPipeContext(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("sessionhelper.Dial %s: %w", name, err)
	}
	return c, nil
}

// ClientPID returns the process id of the client at the other end of a
// connection Listen accepted (GetNamedPipeClientProcessId), for the
// service to compare with the helper it launched.
func ClientPID(c net.Conn) (uint32, error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return 0, errors.New("sessionhelper.ClientPID: not a pipe connection")
	}
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(windows.Handle(f.Fd()), &pid); err != nil {
		return 0, fmt.Errorf("sessionhelper.ClientPID: %w", err)
	}
	return pid, nil
}

// PipeDACL returns the DACL of the pipe server end c, in SDDL, as Windows
// holds it.
func PipeDACL(c interface{ Fd() uintptr }) (string, error) {
	sd, err := windows.GetSecurityInfo(windows.Handle(c.Fd()), windows.SE_KERNEL_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return "", fmt.Errorf("sessionhelper.PipeDACL: %w", err)
	}
	return sd.String(), nil
}
