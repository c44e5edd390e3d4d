package ollama

import (
	"os"
	"syscall"
)

// groupAttr starts the server in a process group of its own (so killGroup
// ends the model runners it forks too) and has it killed when the test
// process dies.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(p *os.Process) {
	syscall.Kill(-p.Pid, syscall.SIGKILL) //nolint:errcheck // the group may be gone already
}
