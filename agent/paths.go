package agent

import (
	"os"
	"path/filepath"
)

// DefaultStateDir is where an agent keeps its identity when no directory is
// given: the system's state location when run by root or as a service, the
// user's configuration directory otherwise.
func DefaultStateDir() string {
	if dir := systemStateDir(); dir != "" && isAdmin() {
		return dir
	}
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "peerdesk-agent")
	}
	return "peerdesk-agent"
}
