package power

import (
	"context"
	"errors"
	"fmt"
)

// NewRunner returns the runner for this OS: commands run with exec;
// Linux has no registry.
func NewRunner() Runner { return execRunner{} }

type execRunner struct{}

func (execRunner) Run(ctx context.Context, argv []string) error { return runCommand(ctx, argv) }

func (execRunner) Registry(context.Context, RegChange) error {
	return fmt.Errorf("power: the registry is Windows'; %w", errors.ErrUnsupported)
}

func (execRunner) RegistryValueExists(string, string) (bool, error) {
	return false, fmt.Errorf("power: the registry is Windows'; %w", errors.ErrUnsupported)
}
