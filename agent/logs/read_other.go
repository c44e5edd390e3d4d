//go:build !linux && !windows

package logs

import (
	"context"
	"errors"

	"github.com/peerdesk/peerdesk/wire"
)

// read has no event log to read on this system.
func read(context.Context, string, wire.LogQuery, func(wire.LogEntry) error) error {
	return errors.ErrUnsupported
}
