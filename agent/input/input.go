// Package input injects the technician's mouse and keyboard into the user's
// desktop (requirement R1).
//
// # Overview
//
// The browser sends [wire.InputEvent] values: pointer moves on the
// unordered "pointer" data channel, buttons, wheel notches and keys on the
// reliable "input" channel. An [Injector] validates each event, adds the
// origin of the monitor being shown, and hands it to the platform backend.
// Press and release always travel as two separate events (never a combined
// click or tap) and nothing sleeps between them: timing is the technician's.
//
// Keys are named by DOM KeyboardEvent.code (the physical key, independent of
// the technician's layout); one OS-neutral table (keyTable in keys.go) maps
// each code to a robotgo key name and a PC set-1 scancode. A code missing from the
// table is refused with [ErrUnknownKey]; the caller logs and drops it.
//
// Every key and button an injector presses is remembered until it is
// released, so [Injector.ReleaseAll] can let go of everything when the
// session ends or the connection drops: a modifier must never stay stuck on
// the user's machine.
//
// # Platforms
//
//   - Linux (X11, cgo): github.com/go-vgo/robotgo, which drives XTest through
//     Xlib. robotgo keeps one X connection per process, so one process injects
//     into one display; see [New] for how the display is chosen. robotgo's
//     built-in sleeps (MouseSleep, KeySleep) are set to zero. Three things
//     robotgo v1.1.0 gets wrong on X11 are handled here: it maps the keypad
//     operators and keypad Enter to Windows virtual-key numbers instead of
//     keysyms (they would type n, j, 7, b and `), so those five keys are sent
//     as keysyms through this package's own XTest call; Xlib's default error
//     handler exits the process on any protocol error (a keysym missing from
//     the keymap is enough), so a process-wide handler that records the error
//     is installed and Apply returns it; and robotgo silently falls back to
//     $DISPLAY and then ":0" when the named display does not open, so [New]
//     opens it first and fails if it cannot. Still unhandled: if the X server
//     goes away, Xlib's I/O error handler ends the process on the next event.
//   - Windows: robotgo's Windows code needs cgo (or its "win"/"purego" build
//     tags), and the agent is cross-compiled with CGO_ENABLED=0 and no tags,
//     so the Windows injector calls user32 directly through
//     golang.org/x/sys/windows: SendInput with hardware scancodes
//     (KEYEVENTF_SCANCODE) for keys, buttons and wheel, SetCursorPos for
//     moves (virtual-desktop pixels). It must run in the interactive user's
//     session (a service in session 0 reaches no desktop), and UIPI keeps it
//     from driving windows of higher integrity. CtrlAltDel uses SendSAS,
//     which works only from a service and only if the SoftwareSASGeneration
//     policy allows it; elsewhere it returns [ErrUnsupported]. Each key event
//     carries the layout's virtual key beside the scancode (Windows ignores
//     it under KEYEVENTF_SCANCODE; Wine types only it). It runs under Wine
//     in the Windows lane (e2e TestWindowsSendInput), not yet on Windows.
//   - macOS and everything else (including Linux built without cgo): [New]
//     returns [ErrUnsupported]. robotgo's macOS code needs cgo and the macOS
//     SDK, which cannot be built or tested here.
//
// # Usage
//
//	inj, err := input.New("") // $DISPLAY on X11; ignored on Windows
//	if err != nil { ... }
//	defer func() {
//		if err := inj.ReleaseAll(); err != nil { log.Warn("input", "err", err) }
//	}()
//	for ev := range events {
//		err := inj.Apply(ev, monitorOrigin)
//		if errors.Is(err, input.ErrUnknownKey) { log.Debug("dropped key", "err", err) } else if err != nil { ... }
//	}
package input

import (
	"errors"
	"fmt"
	"image"
	"sync"

	"github.com/peerdesk/peerdesk/wire"
)

// Injector applies input events to the local desktop. Its methods are safe
// for concurrent use.
type Injector interface {
	// Apply injects one event. origin is the top-left of the monitor being
	// shown, in desktop coordinates; it is added to the event's X and Y.
	Apply(ev wire.InputEvent, origin image.Point) error
	// CtrlAltDel sends the secure-attention sequence where the OS allows
	// it. On X11 it presses and releases Ctrl+Alt+Delete as keys.
	CtrlAltDel() error
	// ReleaseAll releases every key and button this injector pressed and
	// has not released yet. Call it when the session ends or the
	// connection drops.
	ReleaseAll() error
}

var (
	// ErrUnsupported is returned by [New] on a platform without an
	// injector, and by [Injector.CtrlAltDel] where the OS refuses it. It is
	// errors.ErrUnsupported, so either can be checked with errors.Is.
	ErrUnsupported = errors.ErrUnsupported
	// ErrUnknownKey is returned by [Injector.Apply] for a key event whose
	// DOM code is not in the key table. The event is dropped.
	ErrUnknownKey = errors.New("input: unknown key code")
	// ErrInvalidEvent is returned by [Injector.Apply] for an event of an
	// unknown type or with out-of-range values. Nothing is injected.
	ErrInvalidEvent = errors.New("input: invalid event")
)

// Limits on what one event may ask for.
const (
	MaxCoord  = 32768 // |x| and |y| after adding the origin
	MaxNotch  = 20    // |dx| and |dy| of one wheel event, in notches
	maxButton = 2     // DOM MouseEvent.button: 0 left, 1 middle, 2 right
)

// Event types of wire.InputEvent.
const (
	typeMove   = "move"
	typeButton = "button"
	typeWheel  = "wheel"
	typeKey    = "key"
)

// backend is the platform half of an injector: it injects exactly what it is
// told, with coordinates already absolute and validated.
type backend interface {
	move(x, y int) error
	button(b int, down bool) error // b is 0 left, 1 middle, 2 right
	wheel(dx, dy int) error        // notches, DOM sign: dy > 0 scrolls down, dx > 0 right
	key(k key, down bool) error
	ctrlAltDel() error
}

// injector validates events, tracks what is held down and drives a backend.
type injector struct {
	mu      sync.Mutex
	b       backend
	keys    map[string]bool // DOM codes held down
	buttons [maxButton + 1]bool
}

func newInjector(b backend) *injector {
	return &injector{b: b, keys: make(map[string]bool)}
}

// Apply implements [Injector].
func (in *injector) Apply(ev wire.InputEvent, origin image.Point) error {
	if err := in.apply(ev, origin); err != nil {
		return fmt.Errorf("input.Apply: %w", err)
	}
	return nil
}

func (in *injector) apply(ev wire.InputEvent, origin image.Point) error {
	switch ev.Type {
	case typeMove:
		x, y, err := position(ev, origin)
		if err != nil {
			return err
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.b.move(x, y)
	case typeButton:
		if ev.Button < 0 || ev.Button > maxButton {
			return fmt.Errorf("%w: button %d (want 0-%d)", ErrInvalidEvent, ev.Button, maxButton)
		}
		x, y, err := position(ev, origin)
		if err != nil {
			return err
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		// The browser reports where the button went down or up; move
		// there first so a move lost on the unordered channel cannot
		// put the click somewhere else.
		if err := in.b.move(x, y); err != nil {
			return err
		}
		if err := in.b.button(ev.Button, ev.Down); err != nil {
			return err
		}
		in.buttons[ev.Button] = ev.Down
		return nil
	case typeWheel:
		if !within(ev.DX, MaxNotch) || !within(ev.DY, MaxNotch) {
			return fmt.Errorf("%w: wheel (%d,%d) notches (limit ±%d)", ErrInvalidEvent, ev.DX, ev.DY, MaxNotch)
		}
		if ev.DX == 0 && ev.DY == 0 {
			return nil
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.b.wheel(ev.DX, ev.DY)
	case typeKey:
		k, ok := keyTable[ev.Code]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownKey, ev.Code)
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		if err := in.b.key(k, ev.Down); err != nil {
			return fmt.Errorf("key %s: %w", ev.Code, err)
		}
		if ev.Down {
			in.keys[ev.Code] = true
		} else {
			delete(in.keys, ev.Code)
		}
		return nil
	default:
		return fmt.Errorf("%w: type %q", ErrInvalidEvent, ev.Type)
	}
}

// position returns the event's absolute desktop coordinates, refusing
// anything beyond ±MaxCoord (a sane desktop is far smaller; larger values
// are garbage or an attempt to overflow the OS's arithmetic).
func position(ev wire.InputEvent, origin image.Point) (x, y int, err error) {
	// Check the parts first so the sums cannot overflow.
	for _, v := range [...]int{ev.X, ev.Y, origin.X, origin.Y} {
		if !within(v, MaxCoord) {
			return 0, 0, fmt.Errorf("%w: position (%d,%d)+(%d,%d) beyond ±%d", ErrInvalidEvent, ev.X, ev.Y, origin.X, origin.Y, MaxCoord)
		}
	}
	x, y = ev.X+origin.X, ev.Y+origin.Y
	if !within(x, MaxCoord) || !within(y, MaxCoord) {
		return 0, 0, fmt.Errorf("%w: position (%d,%d) beyond ±%d", ErrInvalidEvent, x, y, MaxCoord)
	}
	return x, y, nil
}

// CtrlAltDel implements [Injector].
func (in *injector) CtrlAltDel() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.b.ctrlAltDel(); err != nil {
		return fmt.Errorf("input.CtrlAltDel: %w", err)
	}
	return nil
}

// ReleaseAll implements [Injector]. It tries every release even when one
// fails, and forgets what it released.
func (in *injector) ReleaseAll() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	var errs []error
	for b, down := range in.buttons {
		if !down {
			continue
		}
		if err := in.b.button(b, false); err != nil {
			errs = append(errs, fmt.Errorf("button %d: %w", b, err))
			continue
		}
		in.buttons[b] = false
	}
	// Release ordinary keys before modifiers, so a held Ctrl cannot turn
	// the release of another key into a shortcut on the way out.
	for _, modifiers := range [...]bool{false, true} {
		for code := range in.keys {
			k := keyTable[code]
			if k.modifier != modifiers {
				continue
			}
			if err := in.b.key(k, false); err != nil {
				errs = append(errs, fmt.Errorf("key %s: %w", code, err))
				continue
			}
			delete(in.keys, code)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("input.ReleaseAll: %w", err)
	}
	return nil
}

// chord presses the keys of codes in order and releases them in reverse.
// If a press fails, the keys already down are released before returning.
func chord(b backend, codes ...string) error {
	var errs []error
	pressed := 0
	for _, code := range codes {
		if err := b.key(keyTable[code], true); err != nil {
			errs = append(errs, fmt.Errorf("press %s: %w", code, err))
			break
		}
		pressed++
	}
	for i := pressed - 1; i >= 0; i-- {
		if err := b.key(keyTable[codes[i]], false); err != nil {
			errs = append(errs, fmt.Errorf("release %s: %w", codes[i], err))
		}
	}
	return errors.Join(errs...)
}

// held reports the DOM codes and buttons currently held, for tests.
func (in *injector) held() (keys []string, buttons []int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for code := range in.keys {
		keys = append(keys, code)
	}
	for b, down := range in.buttons {
		if down {
			buttons = append(buttons, b)
		}
	}
	return keys, buttons
}

// within reports whether -limit <= v <= limit.
func within(v, limit int) bool { return -limit <= v && v <= limit }
