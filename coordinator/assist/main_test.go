package assist

import (
	"testing"

	"github.com/peerdesk/peerdesk/harness/netns"
)

// The tests (which start a real Ollama server) run in a loopback-only
// network namespace of their own.
func TestMain(m *testing.M) { netns.Main(m) }
