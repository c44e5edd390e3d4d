//go:build !linux

package files

import (
	"os"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
)

func TestMain(m *testing.M) { os.Exit(leak.Main(m)) }
