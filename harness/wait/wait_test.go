package wait

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fatal is a testing.TB whose Fatalf records the message and ends the
// goroutine, as testing.T does.
type fatal struct {
	testing.TB
	msg string
}

func (f *fatal) Helper() {}
func (f *fatal) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recording TB in a goroutine of its own and returns
// the fatal message, "" if f returned.
func run(t *testing.T, f func(tb testing.TB)) string {
	r := &fatal{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
	return r.msg
}

func TestWithin(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	if msg := run(t, func(tb testing.TB) { Within(tb, time.Second, "the third look", func() bool { return n.Add(1) == 3 }) }); msg != "" {
		t.Fatalf("a condition that became true failed: %s", msg)
	}
	msg := run(t, func(tb testing.TB) { Within(tb, 20*time.Millisecond, "the sky to fall", func() bool { return false }) })
	if !strings.Contains(msg, "waiting for the sky to fall") {
		t.Fatalf("a condition that never held gave %q", msg)
	}
}

func TestForErr(t *testing.T) {
	t.Parallel()
	if err := Until(20*time.Millisecond, func() error { return fmt.Errorf("still down") }); err == nil || err.Error() != "still down" {
		t.Fatalf("Until = %v, want the last error", err)
	}
}

func TestHolds(t *testing.T) {
	t.Parallel()
	if msg := run(t, func(tb testing.TB) { Holds(tb, 20*time.Millisecond, "true", func() bool { return true }) }); msg != "" {
		t.Fatalf("a condition that held failed: %s", msg)
	}
	var n atomic.Int32
	msg := run(t, func(tb testing.TB) { Holds(tb, time.Second, "the count", func() bool { return n.Add(1) < 3 }) })
	if !strings.Contains(msg, "the count stopped holding") {
		t.Fatalf("a condition that broke gave %q", msg)
	}
}

func TestRecv(t *testing.T) {
	t.Parallel()
	ch := make(chan int, 1)
	ch <- 7
	if v := Recv(t, "seven", ch); v != 7 {
		t.Fatalf("Recv = %d", v)
	}
}
