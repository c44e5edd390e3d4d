//go:build !linux && !windows

package apps

import (
	"context"
	"errors"

	"github.com/peerdesk/peerdesk/wire"
)

// List has no package database to read on this system.
func List(context.Context) (wire.AppList, error) { return wire.AppList{}, errors.ErrUnsupported }
