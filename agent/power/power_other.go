//go:build !linux && !windows

package power

import (
	"context"
	"errors"
	"fmt"
)

// NewRunner returns the runner for this OS, which can do nothing: power
// actions exist on Linux and Windows only.
func NewRunner() Runner { return unsupported{} }

type unsupported struct{}

var errOS = fmt.Errorf("power: not on this operating system; %w", errors.ErrUnsupported)

func (unsupported) Run(context.Context, []string) error              { return errOS }
func (unsupported) Registry(context.Context, RegChange) error        { return errOS }
func (unsupported) RegistryValueExists(string, string) (bool, error) { return false, errOS }
