//go:build !windows

package main

import (
	"context"
	"log/slog"

	"github.com/peerdesk/peerdesk/agent/sessionhelper"
)

// serviceDesktop: off Windows the agent's service shares the user's
// display (X11), so it captures and injects itself (nil).
func serviceDesktop(context.Context, bool, *slog.Logger) (*sessionhelper.Desktop, func(), error) {
	return nil, func() {}, nil
}
