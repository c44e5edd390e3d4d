package xclient

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// eventBuffer bounds the Events channel; events arriving while it is full
// are dropped (and counted by Dropped).
const eventBuffer = 1024

// Event is one input event received by a Window.
type Event struct {
	Kind   string // "key", "button" or "motion"
	Down   bool   // key, button: pressed (true) or released
	Keysym string // key: X keysym name of the key's unshifted symbol, e.g. "a", "Return", "Shift_L"; unknown ones as "0x%x"
	Button int    // button: X button number (1 left, 2 middle, 3 right, 4/5 wheel)
	X, Y   int    // pointer position relative to the window's top-left
}

// Window is a mapped top-level X window with its own connection.
type Window struct {
	conn   *xgb.Conn
	id     xproto.Window
	gc     xproto.Gcontext
	root   xproto.Window
	bounds image.Rectangle // in root (screen) coordinates
	keymap keymap

	events  chan Event
	mapped  chan struct{}
	done    chan struct{} // closed when the event pump has exited
	dropped int
	mu      sync.Mutex // guards dropped and asyncEr
	asyncEr error      // an X error reported for an unchecked request
	mapOnce sync.Once

	drawMu sync.Mutex // serialises drawing and guards offset
	offset int        // vertical pattern offset accumulated by Scroll

	closeOnce sync.Once
}

// OpenWindow creates a w x h window at (x, y) on display's default screen
// with its own X connection, maps and raises it, gives it the input focus
// and waits until the server reports it mapped. It listens for key, button
// and pointer-motion events (see Events). The window is a normal one (not
// override-redirect); Xvfb runs no window manager, so it appears exactly at
// (x, y) with a black background. It is closed when t ends.
func OpenWindow(t testing.TB, display string, x, y, w, h int) *Window {
	t.Helper()
	win, err := openWindow(display, x, y, w, h)
	if err != nil {
		t.Fatalf("xclient.OpenWindow: %v", err)
	}
	t.Cleanup(win.Close)
	return win
}

func openWindow(display string, x, y, w, h int) (_ *Window, err error) {
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	screen := xproto.Setup(conn).DefaultScreen(conn)
	if !rgb888(screen) {
		return nil, fmt.Errorf("display %s: only 24-bit TrueColor screens with 8-8-8 RGB masks are supported", display)
	}
	km, err := loadKeymap(conn)
	if err != nil {
		return nil, err
	}
	win := &Window{
		conn:   conn,
		root:   screen.Root,
		bounds: image.Rect(x, y, x+w, y+h),
		keymap: km,
		events: make(chan Event, eventBuffer),
		mapped: make(chan struct{}),
		done:   make(chan struct{}),
	}
	wid, err := xproto.NewWindowId(conn)
	if err != nil {
		return nil, err
	}
	win.id = wid
	mask := uint32(xproto.EventMaskKeyPress | xproto.EventMaskKeyRelease |
		xproto.EventMaskButtonPress | xproto.EventMaskButtonRelease |
		xproto.EventMaskPointerMotion | xproto.EventMaskStructureNotify)
	if err := xproto.CreateWindowChecked(conn, screen.RootDepth, wid, screen.Root,
		int16(x), int16(y), uint16(w), uint16(h), 0, xproto.WindowClassInputOutput,
		screen.RootVisual, xproto.CwBackPixel|xproto.CwEventMask,
		[]uint32{screen.BlackPixel, mask}).Check(); err != nil {
		return nil, fmt.Errorf("creating the window: %w", err)
	}
	gc, err := xproto.NewGcontextId(conn)
	if err != nil {
		return nil, err
	}
	win.gc = gc
	if err := xproto.CreateGCChecked(conn, gc, xproto.Drawable(wid),
		xproto.GcForeground|xproto.GcGraphicsExposures, []uint32{screen.WhitePixel, 0}).Check(); err != nil {
		return nil, fmt.Errorf("creating the graphics context: %w", err)
	}
	go win.pump()
	if err := xproto.MapWindowChecked(conn, wid).Check(); err != nil {
		win.Close()
		return nil, fmt.Errorf("mapping the window: %w", err)
	}
	select {
	case <-win.mapped:
	case <-win.done:
		win.Close()
		return nil, errors.New("connection closed before the window was mapped")
	case <-time.After(5 * time.Second):
		win.Close()
		return nil, errors.New("the window was not mapped within 5s")
	}
	if err := errors.Join(
		xproto.ConfigureWindowChecked(conn, wid, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove}).Check(),
		xproto.SetInputFocusChecked(conn, xproto.InputFocusParent, wid, xproto.TimeCurrentTime).Check(),
	); err != nil {
		win.Close()
		return nil, fmt.Errorf("raising and focusing the window: %w", err)
	}
	return win, nil
}

// ID returns the X window id.
func (w *Window) ID() uint32 { return uint32(w.id) }

// Bounds returns the window's rectangle in screen coordinates.
func (w *Window) Bounds() image.Rectangle { return w.bounds }

// Events returns the channel of input events the window received. It holds
// at most 1024 events; later ones are dropped until it is drained. It is
// closed by Close.
func (w *Window) Events() <-chan Event { return w.events }

// Close destroys the window, closes its connection and waits for its event
// goroutine. It is idempotent.
func (w *Window) Close() {
	w.closeOnce.Do(func() {
		// The window dies with the connection anyway; destroying it first
		// makes it vanish before Close returns.
		if err := xproto.DestroyWindowChecked(w.conn, w.id).Check(); err != nil {
			w.setAsyncErr(err)
		}
		w.conn.Close()
		<-w.done
	})
}

// pump translates X events until the connection closes.
func (w *Window) pump() {
	defer close(w.done)
	defer close(w.events)
	for {
		ev, xerr := w.conn.WaitForEvent()
		if ev == nil && xerr == nil {
			return
		}
		if xerr != nil {
			w.setAsyncErr(xerr)
			continue
		}
		var e Event
		switch ev := ev.(type) {
		case xproto.MapNotifyEvent:
			if ev.Window == w.id {
				w.mapOnce.Do(func() { close(w.mapped) })
			}
			continue
		case xproto.KeyPressEvent:
			e = Event{Kind: "key", Down: true, Keysym: w.keymap.name(byte(ev.Detail)), X: int(ev.EventX), Y: int(ev.EventY)}
		case xproto.KeyReleaseEvent:
			e = Event{Kind: "key", Keysym: w.keymap.name(byte(ev.Detail)), X: int(ev.EventX), Y: int(ev.EventY)}
		case xproto.ButtonPressEvent:
			e = Event{Kind: "button", Down: true, Button: int(ev.Detail), X: int(ev.EventX), Y: int(ev.EventY)}
		case xproto.ButtonReleaseEvent:
			e = Event{Kind: "button", Button: int(ev.Detail), X: int(ev.EventX), Y: int(ev.EventY)}
		case xproto.MotionNotifyEvent:
			e = Event{Kind: "motion", X: int(ev.EventX), Y: int(ev.EventY)}
		default:
			continue
		}
		select {
		case w.events <- e:
		default:
			w.mu.Lock()
			w.dropped++
			w.mu.Unlock()
		}
	}
}

// Dropped reports how many input events were dropped because Events was full.
func (w *Window) Dropped() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

func (w *Window) setAsyncErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.asyncEr == nil {
		w.asyncEr = err
	}
}

// takeAsyncErr returns and clears an X error reported asynchronously.
func (w *Window) takeAsyncErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.asyncEr
	w.asyncEr = nil
	return err
}

// checker is a cookie of a checked request without reply.
type checker interface{ Check() error }

// sync waits until the server has executed every request sent so far and
// returns the first error among checks and any asynchronous X error.
func (w *Window) sync(op string, checks []checker) error {
	var errs []error
	for _, c := range checks {
		errs = append(errs, c.Check())
	}
	if _, err := xproto.GetInputFocus(w.conn).Reply(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, w.takeAsyncErr())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("xclient.%s: %w", op, err)
	}
	return nil
}

// rgb888 reports whether the root visual stores pixels as 0xRRGGBB, which
// pixel relies on.
func rgb888(screen *xproto.ScreenInfo) bool {
	for _, d := range screen.AllowedDepths {
		for _, v := range d.Visuals {
			if v.VisualId == screen.RootVisual {
				return d.Depth >= 24 && v.Class == xproto.VisualClassTrueColor &&
					v.RedMask == 0xff0000 && v.GreenMask == 0xff00 && v.BlueMask == 0xff
			}
		}
	}
	return false
}
