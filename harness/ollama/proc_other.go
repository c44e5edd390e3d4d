//go:build !linux

package ollama

import (
	"os"
	"syscall"
)

// groupAttr: outside Linux the server runs without a group of its own;
// killGroup ends the server only, and its runners exit when it does.
func groupAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) {
	p.Kill() //nolint:errcheck // may have exited
}
