package tickets

import (
	"testing"

	"github.com/peerdesk/peerdesk/harness/netns"
)

// The tests run in a loopback-only network namespace of their own: the
// Ollama server has no way out.
func TestMain(m *testing.M) { netns.Main(m) }
