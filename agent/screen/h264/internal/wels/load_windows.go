//go:build windows

package wels

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// DefaultPath is the name of Cisco's binary release of OpenH264 2.3.1 for
// 64-bit Windows (github.com/cisco/openh264/releases, licensed by Cisco
// for H.264 patents when downloaded from Cisco), looked for next to the
// agent and then on the DLL search path.
const DefaultPath = "openh264-2.3.1-win64.dll"

type dynlib struct{ d *syscall.DLL }

func load(path string) (lib, error) {
	d, err := syscall.LoadDLL(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return &dynlib{d: d}, nil
}

func (l *dynlib) sym(name string) (uintptr, error) {
	p, err := l.d.FindProc(name)
	if err != nil {
		return 0, err
	}
	return p.Addr(), nil
}

func (l *dynlib) call(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := syscall.SyscallN(fn, args...)
	return r
}

// DefaultLocation is DefaultPath in the agent's own directory: an absolute
// path, so that LoadLibrary does not search the current directory, where a
// user could plant a DLL.
func DefaultLocation() string {
	exe, err := os.Executable()
	if err != nil {
		return "" // Open fails; never a bare name
	}
	return filepath.Join(filepath.Dir(exe), DefaultPath)
}
