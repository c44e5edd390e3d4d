//go:build linux

package files

import (
	"testing"

	"github.com/peerdesk/peerdesk/harness/netns"
)

// The tests run in a namespace of their own: its private mount namespace
// lets TestDiskFull mount a small tmpfs.
func TestMain(m *testing.M) { netns.Main(m) }
