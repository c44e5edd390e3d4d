//go:build linux || windows

package power

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// runCommand runs argv and puts its output in the error when it fails.
func runCommand(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return errors.New("power: empty command")
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		if out = bytes.TrimSpace(out); len(out) > 0 {
			const max = 512
			if len(out) > max {
				out = out[:max]
			}
			return fmt.Errorf("%w: %s", err, out)
		}
		return err
	}
	return nil
}
