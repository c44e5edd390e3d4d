package xclient

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/jezek/xgb"

	"github.com/peerdesk/peerdesk/harness/leak"
)

func TestMain(m *testing.M) {
	// xgb logs through a package-level logger; keep test output readable
	// unless asked for (the harness's PEERDESK_TEST_LOG convention).
	if os.Getenv("PEERDESK_TEST_LOG") == "" {
		xgb.Logger = log.New(io.Discard, "", 0)
	}
	os.Exit(leak.Main(m))
}
