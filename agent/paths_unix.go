//go:build !windows

package agent

import (
	"os"
	"runtime"
)

func systemStateDir() string {
	if runtime.GOOS == "darwin" {
		return "/Library/Application Support/peerdesk/agent"
	}
	return "/var/lib/peerdesk-agent"
}

func isAdmin() bool { return os.Geteuid() == 0 }
