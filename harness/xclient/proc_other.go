//go:build !linux

package xclient

import "syscall"

// dieWithParent has no portable equivalent of Linux's parent-death
// signal: elsewhere Xvfb is stopped only by the test's cleanup.
func dieWithParent() *syscall.SysProcAttr { return nil }
