//go:build !linux

package procs

import (
	"context"

	"github.com/shirou/gopsutil/v4/process"
)

// username is the process's user as the system names it.
func username(ctx context.Context, p *process.Process, _ map[string]string) string {
	n, err := p.UsernameWithContext(ctx)
	if err != nil {
		return ""
	}
	return n
}
