//go:build !windows

package main

import (
	"context"
	"log/slog"

	"github.com/peerdesk/peerdesk/agent/sessionhelper"
)

// serviceDesktop: off Windows the agent's service shares the user's
// display (X11), so it captures, injects and opens the user's browser
// itself (nil).
func serviceDesktop(context.Context, bool, *slog.Logger) (*sessionhelper.Desktop, func(url string) error, func(), error) {
	return nil, nil, func() {}, nil
}
