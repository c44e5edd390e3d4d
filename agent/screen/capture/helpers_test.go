package capture

import (
	"context"
	"errors"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// idle is how long a Next must stay blocked to count as "waiting": a
// behavioural check (it returned the context's error, not a frame), not a
// timing measurement.
const idle = 150 * time.Millisecond

// at returns the colour of pixel (x, y) of f (B, G, R bytes; the fourth
// byte carries no colour).
func at(f Frame, x, y int) color.RGBA {
	i := y*f.Stride + x*4
	return color.RGBA{R: f.Pix[i+2], G: f.Pix[i+1], B: f.Pix[i], A: 255}
}

func next(t *testing.T, src Source, timeout time.Duration) (Frame, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return src.Next(ctx)
}

// waitsIdle asserts Next blocks until its context ends.
func waitsIdle(t *testing.T, src Source, why string) {
	t.Helper()
	if f, err := next(t, src, idle); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: Next = frame %d, %v; want it to wait until the context ends", why, f.Seq, err)
	}
}

// waitBlocked waits until a goroutine of this process is parked in a
// select whose innermost frame is fn (e.g. "(*x11Source).Next"): the
// event "it is waiting", where a sleep would only guess it.
func waitBlocked(t *testing.T, what, fn string) {
	t.Helper()
	wait.For(t, what, func() bool {
		for _, g := range leak.Goroutines() {
			header, frames, _ := strings.Cut(g, "\n")
			top, _, _ := strings.Cut(frames, "\n")
			if strings.Contains(header, "[select") && strings.Contains(top, "."+fn+"(") {
				return true
			}
		}
		return false
	})
}
