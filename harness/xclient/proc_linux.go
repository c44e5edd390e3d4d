package xclient

import "syscall"

// dieWithParent makes Xvfb get SIGKILL when the test process dies (a test
// binary that times out, panics or is ended by Xlib), so no server outlives
// the test that started it.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
