package procs

import (
	"context"
	"os/user"
	"strconv"

	"github.com/shirou/gopsutil/v4/process"
)

// username is the name of the process's real user, looked up once per uid
// per list.
func username(ctx context.Context, p *process.Process, cache map[string]string) string {
	uids, err := p.UidsWithContext(ctx)
	if err != nil || len(uids) == 0 {
		return ""
	}
	id := strconv.FormatUint(uint64(uids[0]), 10)
	if n, ok := cache[id]; ok {
		return n
	}
	n := id
	if u, err := user.LookupId(id); err == nil {
		n = u.Username
	}
	cache[id] = n
	return n
}
