//go:build !unix

package wine

import (
	"context"
	"errors"
)

// lockFile: Wine runs on Unix only.
func lockFile(context.Context, string) (func(), error) {
	return nil, errors.ErrUnsupported
}
