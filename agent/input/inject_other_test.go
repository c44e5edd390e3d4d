//go:build !(linux && cgo) && !windows

package input

import (
	"errors"
	"testing"
)

func TestNewUnsupported(t *testing.T) {
	inj, err := New(":0")
	if inj != nil || !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("New = %v, %v; want nil, ErrUnsupported", inj, err)
	}
}
