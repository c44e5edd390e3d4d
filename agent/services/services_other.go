//go:build !linux && !windows

package services

import (
	"context"
	"errors"

	"github.com/peerdesk/peerdesk/wire"
)

// NewManager has no service manager to speak to on this system.
func NewManager(string) Manager { return unsupported{} }

type unsupported struct{}

func (unsupported) List(context.Context) ([]wire.Service, error) { return nil, errors.ErrUnsupported }
func (unsupported) Do(context.Context, string, string) (string, error) {
	return "", errors.ErrUnsupported
}
func (unsupported) Get(context.Context, string) (wire.Service, error) {
	return wire.Service{}, errors.ErrUnsupported
}
