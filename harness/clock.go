package harness

import (
	"time"

	"tailscale.com/tstest"
)

// NewClock returns a clock for coordinators under test (WithClock): it
// starts at the real time and runs with it, and the test moves it with
// Advance (backwards too), as when days pass between two steps of a
// journey.
func NewClock() *tstest.Clock {
	return tstest.NewClock(tstest.ClockOpts{Start: time.Now(), FollowRealTime: true})
}
