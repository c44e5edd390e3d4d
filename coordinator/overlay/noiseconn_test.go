package overlay_test

import (
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
)

// TestNoiseConnectionCost checks the two changes to Headscale that keep an
// idle control connection small (third_party/headscale/PEERDESK.md, 3 and
// 4): more connections build no more routers, and no goroutine stays
// parked in the upgrade handler under net/http's connection (its buffers
// and the outer router's deep stack).
func TestNoiseConnectionCost(t *testing.T) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1 // every allocation from here on
	t.Cleanup(func() { runtime.MemProfileRate = old })

	c := startCoordinator(t)
	c.join(t, "agent-0", wire.TagAgent, false) // the first builds what is shared
	before := liveBytesFrom(t, "github.com/go-chi/chi/v5.(*node).InsertRoute")
	for i := 1; i <= 3; i++ {
		c.join(t, fmt.Sprintf("agent-%d", i), wire.TagAgent, false)
	}
	after := liveBytesFrom(t, "github.com/go-chi/chi/v5.(*node).InsertRoute")
	// One Noise router is ~33 KB of routes; three more connections must
	// not add any (a little slack for maps that grew elsewhere).
	if after-before > 4<<10 {
		t.Errorf("routes held grew by %d bytes for 3 more control connections (from %d to %d): a router per connection", after-before, before, after)
	}

	t.Logf("routes live: %d bytes after one control connection, %d after four", before, after)

	var dump strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&dump, 1); err != nil {
		t.Fatal(err)
	}
	for _, g := range strings.Split(dump.String(), "\n\n") {
		if strings.Contains(g, "NoiseUpgradeHandler") {
			t.Errorf("goroutines still inside the Noise upgrade handler:\n%s", g)
		}
	}
}

// liveBytesFrom is how many bytes live on the heap were allocated with fn
// on the stack.
func liveBytesFrom(t *testing.T, fn string) int64 {
	t.Helper()
	// The profile is as of the last completed collection; two make it
	// include everything allocated so far.
	runtime.GC()
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	var total int64
	for _, r := range recs {
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if f.Function == fn {
				total += r.InUseBytes()
				break
			}
			if !more {
				break
			}
		}
	}
	if total == 0 {
		t.Fatalf("nothing live allocated by %s: the profile or the name is wrong", fn)
	}
	return total
}
