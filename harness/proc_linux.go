package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// dieWithParent makes a child process get SIGKILL when the test process
// dies, so a test that times out leaves no server behind.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// groupGone returns nil once no process of process group pgid runs (a
// zombie waiting for its parent runs no more); otherwise an error naming
// those that do.
func groupGone(pgid int) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var live []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		live = append(live, s[:i+1])
	}
	if len(live) > 0 {
		return fmt.Errorf("processes of group %d still run: %s", pgid, strings.Join(live, ", "))
	}
	return nil
}
