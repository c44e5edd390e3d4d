//go:build linux && cgo

package input

/*
#cgo LDFLAGS: -lX11 -lXtst
#include <stdlib.h>
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>

// Xlib's default error handler prints the error and exits the process.
// This one records the error code; the Go side turns it into an error.
// Xlib error handlers are per process, so this covers robotgo's connection.
static int pd_xerror;

static int pd_error_handler(Display *d, XErrorEvent *e) {
	(void)d;
	pd_xerror = e->error_code;
	return 0;
}

static void pd_install_error_handler(void) { XSetErrorHandler(pd_error_handler); }

static int pd_take_error(void) {
	int e = pd_xerror;
	pd_xerror = 0;
	return e;
}

static int pd_has_xtest(Display *d) {
	int ev, err, major, minor;
	return XTestQueryExtension(d, &ev, &err, &major, &minor);
}

// pd_key presses or releases the key carrying keysym ks and waits until the
// server has processed it. It returns 0 when no key of the keymap carries ks.
static int pd_key(Display *d, unsigned long ks, int down) {
	KeyCode kc = XKeysymToKeycode(d, (KeySym)ks);
	if (kc == 0) return 0;
	XTestFakeKeyEvent(d, kc, down ? True : False, CurrentTime);
	XSync(d, False);
	return 1;
}
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/go-vgo/robotgo"
)

// keysymOverrides lists robotgo key names that robotgo v1.1.0 maps to the
// wrong X keysym: its X11 enum gives the keypad operators and keypad Enter
// Windows virtual-key numbers (78, 74, 55, 98, 96), which X reads as the
// keysyms of n, j, 7, b and `. These keys are sent as the right keysyms
// through this package's own XTest call.
var keysymOverrides = map[string]C.ulong{
	"num+":      0xffab, // XK_KP_Add
	"num-":      0xffad, // XK_KP_Subtract
	"num*":      0xffaa, // XK_KP_Multiply
	"num/":      0xffaf, // XK_KP_Divide
	"num_enter": 0xff8d, // XK_KP_Enter
}

// x11 is the process's one X11 input connection. robotgo keeps a single
// Xlib Display per process and Xlib is not safe for concurrent use, so every
// call into robotgo or Xlib happens under x11.mu.
var x11 struct {
	mu      sync.Mutex
	display string     // the display robotgo is bound to; "" before the first New
	own     *C.Display // this package's connection, for keysymOverrides
}

// New returns an injector for the X11 display named display (for example
// ":0" or ":99"). An empty display means $DISPLAY.
//
// The display is chosen with robotgo.SetXDisplayName, not through $DISPLAY:
// robotgo opens its X connection lazily and would otherwise take $DISPLAY,
// then ":0", and it falls back to those silently if the named display does
// not open. New therefore opens the display itself first and fails if it
// cannot, then makes robotgo connect before it returns. robotgo holds one
// connection per process, so every injector of a process drives the same
// display: New with a different display than an earlier call fails.
//
// New also sets robotgo.MouseSleep and robotgo.KeySleep to 0 for the whole
// process.
func New(display string) (Injector, error) {
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	if display == "" {
		return nil, fmt.Errorf("input.New: no X display given and $DISPLAY is empty")
	}
	x11.mu.Lock()
	defer x11.mu.Unlock()
	if x11.display != "" {
		if x11.display != display {
			return nil, fmt.Errorf("input.New: display %q: this process already injects into %q (robotgo keeps one X connection per process)", display, x11.display)
		}
		return newInjector(x11Backend{}), nil
	}
	name := C.CString(display)
	defer C.free(unsafe.Pointer(name))
	own := C.XOpenDisplay(name)
	if own == nil {
		return nil, fmt.Errorf("input.New: cannot open X display %q", display)
	}
	if C.pd_has_xtest(own) == 0 {
		C.XCloseDisplay(own)
		return nil, fmt.Errorf("input.New: X display %q lacks the XTEST extension", display)
	}
	C.pd_install_error_handler()
	robotgo.MouseSleep = 0
	robotgo.KeySleep = 0
	if err := robotgo.SetXDisplayName(display); err != nil {
		C.XCloseDisplay(own)
		return nil, fmt.Errorf("input.New: robotgo.SetXDisplayName(%q): %w", display, err)
	}
	robotgo.Location() // opens robotgo's connection now, not on the first event
	if err := takeXError(); err != nil {
		C.XCloseDisplay(own)
		return nil, fmt.Errorf("input.New: display %q: %w", display, err)
	}
	x11.own = own
	x11.display = display
	return newInjector(x11Backend{}), nil
}

// x11Backend injects through robotgo (and, for keysymOverrides, through
// XTest directly). It has no state of its own: see x11.
type x11Backend struct{}

// robotgo's names for DOM buttons 0, 1 and 2.
var x11Buttons = [...]string{"left", "center", "right"}

func (x11Backend) move(x, y int) error {
	x11.mu.Lock()
	defer x11.mu.Unlock()
	robotgo.Move(x, y)
	return takeXError()
}

func (x11Backend) button(b int, down bool) error {
	x11.mu.Lock()
	defer x11.mu.Unlock()
	err := robotgo.Toggle(x11Buttons[b], upDown(down))
	if xerr := takeXError(); xerr != nil {
		return xerr
	}
	if err != nil {
		return fmt.Errorf("robotgo.Toggle: %w", err)
	}
	return nil
}

func (x11Backend) wheel(dx, dy int) error {
	x11.mu.Lock()
	defer x11.mu.Unlock()
	// robotgo.Scroll: positive y is button 4 (up), positive x is button 6
	// (left); DOM deltas are the other way round. The last argument is
	// robotgo's post-scroll sleep in milliseconds.
	robotgo.Scroll(-dx, -dy, 0)
	return takeXError()
}

func (x11Backend) key(k key, down bool) error {
	x11.mu.Lock()
	defer x11.mu.Unlock()
	if ks, ok := keysymOverrides[k.name]; ok {
		d := C.int(0)
		if down {
			d = 1
		}
		if C.pd_key(x11.own, ks, d) == 0 {
			return fmt.Errorf("keysym %#x is not on the X keyboard map", uint64(ks))
		}
		return takeXError()
	}
	err := robotgo.KeyToggle(k.name, upDown(down))
	if xerr := takeXError(); xerr != nil {
		return xerr
	}
	if err != nil {
		return fmt.Errorf("robotgo.KeyToggle(%q): %w", k.name, err)
	}
	return nil
}

// ctrlAltDel presses and releases Control, Alt and Delete as keys: X11 has
// no secure-attention sequence, and what the desktop does with the chord
// (a logout dialog, nothing) is up to it.
func (b x11Backend) ctrlAltDel() error {
	return chord(b, "ControlLeft", "AltLeft", "Delete")
}

// takeXError returns the X protocol error recorded since the last call, if
// any. Callers hold x11.mu; robotgo and pd_key sync with the server after
// each request, so the error belongs to the call just made.
func takeXError() error {
	if code := C.pd_take_error(); code != 0 {
		return fmt.Errorf("X protocol error %d", int(code))
	}
	return nil
}

func upDown(down bool) string {
	if down {
		return "down"
	}
	return "up"
}
