package capture

import (
	"context"
	"errors"
	"image/color"
	"testing"
	"time"
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
