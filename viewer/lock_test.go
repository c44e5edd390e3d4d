package viewer

import (
	"errors"
	"testing"
)

// TestOneNodePerStateDir: a second viewer on a state directory whose node
// another one runs (`peerdesk-viewer ui` and a command beside it) is
// refused in words instead of joining the overlay with the same keys; the
// lock goes with the first one.
func TestOneNodePerStateDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := lockNode(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockNode(dir); !errors.Is(err, ErrStateInUse) {
		t.Fatalf("a second lock: %v, want ErrStateInUse", err)
	}
	first.Close()
	again, err := lockNode(dir)
	if err != nil {
		t.Fatalf("after the first let go: %v", err)
	}
	again.Close()
}
