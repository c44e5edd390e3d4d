// Package wait is the one way tests wait: on a condition, with a deadline
// and a message that says what did not happen. A test never sleeps a fixed
// time and then looks; it polls the condition that makes its assertion
// true, and a negative assertion ("nothing happens") either waits for the
// event that proves it or holds its condition for a stated span with
// Holds.
//
// It imports nothing internal, so any package's tests can use it.
package wait

import (
	"fmt"
	"testing"
	"time"
)

// Timeout is the deadline For and ForErr use: long enough for a 2-core
// machine running the suite beside other work, short of go test's own.
const Timeout = 30 * time.Second

// Poll is how often a condition is checked.
const Poll = 5 * time.Millisecond

// For waits until cond is true and returns how long that took; past
// Timeout it fails the test with "timed out waiting for <what>".
func For(t testing.TB, what string, cond func() bool) time.Duration {
	t.Helper()
	return Within(t, Timeout, what, cond)
}

// Within is For with a deadline of its own.
func Within(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	if err := until(timeout, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}); err != nil {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
	return time.Since(start)
}

// ForErr waits until f returns nil; past Timeout it fails the test with
// f's last error.
func ForErr(t testing.TB, what string, f func() error) {
	t.Helper()
	if err := until(Timeout, f); err != nil {
		t.Fatalf("timed out after %v waiting for %s: %v", Timeout, what, err)
	}
}

// Until is ForErr without a test: it returns f's last error if f has not
// returned nil by the deadline. For helpers that report in their own way.
func Until(timeout time.Duration, f func() error) error { return until(timeout, f) }

// Recv waits for a value on ch for up to Timeout.
func Recv[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Timeout):
		t.Fatalf("timed out after %v waiting for %s", Timeout, what)
		panic("unreachable")
	}
}

// Holds checks that cond stays true for the whole span d, polling it; it
// fails the test at the first false. This is the one sanctioned way to
// assert that something does not happen when no event can prove it: the
// span is part of the claim ("still online two ticks later"), not a guess
// at how long something else takes.
func Holds(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if !cond() {
			t.Fatalf("%s stopped holding after %v of %v", what, d-time.Until(deadline), d)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(Poll)
	}
}

var errNotYet = fmt.Errorf("condition not met")

func until(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(Poll)
	}
}
