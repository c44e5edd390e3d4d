package h264

import (
	"testing"

	"go.uber.org/goleak"
)

// The encoder starts no goroutines; tests that start some must stop them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
