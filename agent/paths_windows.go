//go:build windows

package agent

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

func systemStateDir() string {
	if pd := os.Getenv("ProgramData"); pd != "" {
		return filepath.Join(pd, "peerdesk", "agent")
	}
	return `C:\ProgramData\peerdesk\agent`
}

func isAdmin() bool { return windows.GetCurrentProcessToken().IsElevated() }
