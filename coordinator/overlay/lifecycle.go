package overlay

import (
	"slices"
	"sync"
	"testing"
)

// lifecycle adapts Headscale's StartBatcherForTest/StartEphemeralGCForTest,
// which take a testing.TB only to call Helper and register a Cleanup, to a
// plain list of cleanups that Server runs on shutdown. Only those two
// methods are implemented; the embedded nil interface makes any other call
// fail loudly instead of silently doing nothing.
type lifecycle struct {
	testing.TB // nil: see above

	mu  sync.Mutex
	fns []func()
	ran bool
}

func (l *lifecycle) Helper() {}

func (l *lifecycle) Cleanup(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fns = append(l.fns, f)
}

// run calls the cleanups once, last registered first, as testing does.
func (l *lifecycle) run() {
	l.mu.Lock()
	fns := l.fns
	l.fns, l.ran = nil, true
	l.mu.Unlock()
	for _, f := range slices.Backward(fns) {
		f()
	}
}
