// Package capture reads the pixels of the local screen for a remote-control
// session (requirement R1): it lists the monitors, captures one of them or
// the whole virtual screen, and hands out frames in BGRA for the encoder.
//
// # Only while a session asks
//
// Nothing is captured unless a caller asks: a Source reads pixels only
// inside Grab and Next. Opening one subscribes to change notifications,
// which costs nothing while the screen is still, and Close ends it.
//
// # Damage drives it
//
// Next waits until the selected area has changed since the previous frame
// and then grabs once, however many changes arrived meanwhile, so a still
// screen costs no CPU and a busy one costs one grab per frame the consumer
// takes. On X11 the change notifications come from the DAMAGE extension on
// the root window (one event whenever the damaged region goes from empty to
// non-empty); Next fetches and resets the damaged region, ignores damage
// outside the selected area, and re-reads only the band of rows that
// changed into a reused MIT-SHM segment that already holds the rest of the
// previous frame. Grab reads everything now, for the first frame and for
// keyframe requests. RandR supplies the monitor layout and reports
// resolution changes, after which the next frame is a full one at the new
// size.
//
// On Windows there is no damage notification for GDI capture: Next grabs
// at a bounded rate (30 per second) while it waits and compares each grab
// with the previous one, returning only when a row differs; see
// capture_windows.go for why GDI and not DXGI Desktop Duplication. Other
// systems get ErrUnsupported.
//
// # Usage
//
//	src, err := capture.Open("")        // $DISPLAY
//	defer src.Close()
//	mons, err := src.Monitors()
//	err = src.Select(mons[0].Index)     // or -1 for the whole virtual screen
//	for {
//		f, err := src.Next(ctx)         // blocks while nothing changes
//		encode(f.Pix, f.Width, f.Height, f.Stride)
//	}
//
// A Source's methods may be called from several goroutines (a keyframe
// request may call Grab while another goroutine waits in Next); Close
// unblocks a waiting Next.
package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Monitor is one display of this machine, in virtual-screen coordinates.
type Monitor = wire.Monitor

// Frame is one captured image of the selected area.
type Frame struct {
	Width, Height, Stride int
	// Pix holds Height rows of Stride bytes, top-down, 4 bytes per pixel in
	// the order blue, green, red, A. The fourth byte is not alpha: on X11
	// depth-24 screens and with GDI it is whatever the server or driver
	// leaves there (usually 0); encoders ignore it. Pix is owned by the
	// Source, must not be written, and is valid only until the next Next or
	// Grab call on the same Source or its Close.
	Pix  []byte
	Time time.Time // when the pixels were read
	Seq  uint64    // increments per grabbed frame, from 1
}

// Source captures one area of the screen.
type Source interface {
	// Monitors returns the current monitor layout, ordered left to right
	// (then top to bottom) with Index numbering that order. Exactly one is
	// Primary: the one the system calls primary, else the one at the
	// origin, else the first.
	Monitors() ([]Monitor, error)
	// Select captures the monitor with this index from now on; -1 selects
	// the whole virtual screen. The next frame is a full one.
	Select(index int) error
	// Next waits until the selected area has changed since the last frame,
	// then grabs it. Several changes before the grab give one frame. It
	// returns at once with a full frame when there is no previous frame
	// for the current selection and size. It returns ctx's error when ctx
	// ends first and ErrClosed after Close.
	Next(ctx context.Context) (Frame, error)
	// Grab reads the selected area now, changed or not.
	Grab() (Frame, error)
	// Close releases the connection and buffers; it is idempotent.
	Close() error
}

var (
	// ErrUnsupported is returned by Open where this package cannot capture
	// (an OS without an implementation, an X server whose pixel format it
	// does not handle). It matches errors.ErrUnsupported too.
	ErrUnsupported = fmt.Errorf("capture: screen capture is not supported here: %w", errors.ErrUnsupported)
	// ErrNoMonitor is returned by Select for an index that names no monitor
	// (and by Next and Grab when the selected monitor went away).
	ErrNoMonitor = errors.New("capture: no such monitor")
	// ErrClosed is returned by calls on a closed Source.
	ErrClosed = errors.New("capture: source closed")
)
