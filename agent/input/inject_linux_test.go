//go:build linux && cgo

package input

import (
	"errors"
	"fmt"
	"image"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-vgo/robotgo"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

func TestMain(m *testing.M) {
	// xgb logs through a global logger that it has no authority file;
	// the test server needs none.
	xgb.Logger = log.New(io.Discard, "", 0)
	code := m.Run()
	// Close robotgo's connection while the server is up: in race builds
	// the process exits through libc, which runs robotgo's atexit
	// XCloseDisplay, and Xlib exits with status 1 on a dead connection.
	x11.mu.Lock()
	robotgo.CloseMainDisplay()
	x11.mu.Unlock()
	stopXvfb(xvfb.cmd)
	if code == 0 {
		if err := leak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// newX11 returns an injector on the test display and a window watching it.
func newX11(t testing.TB) (*injector, *window) {
	t.Helper()
	display := testDisplay(t)
	t.Setenv("DISPLAY", display) // robotgo's fallback, should SetXDisplayName ever not take
	inj, err := New(display)
	if err != nil {
		t.Fatal(err)
	}
	w := openWindow(t, display)
	t.Cleanup(func() {
		if err := inj.ReleaseAll(); err != nil {
			t.Error(err)
		}
	})
	return inj.(*injector), w
}

func apply(t testing.TB, inj Injector, ev wire.InputEvent, origin image.Point) {
	t.Helper()
	if err := inj.Apply(ev, origin); err != nil {
		t.Fatalf("Apply(%+v): %v", ev, err)
	}
}

func TestX11PointerAndButtons(t *testing.T) {
	leak.Check(t)
	inj, w := newX11(t)
	origin := image.Pt(10, 20)
	apply(t, inj, wire.InputEvent{Type: "move", X: 100, Y: 50}, origin)
	if ev, ok := w.next(t, true).(xproto.MotionNotifyEvent); !ok || ev.RootX != 110 || ev.RootY != 70 {
		t.Fatalf("after move: got %v, want MotionNotify at (110,70)", ev)
	}
	for _, tc := range []struct {
		button   int
		x, y     int
		xButton  xproto.Button
		wantX    int16
		wantY    int16
		heldMask uint16
	}{
		{button: 0, x: 100, y: 50, xButton: 1, wantX: 110, wantY: 70, heldMask: xproto.KeyButMaskButton1},
		{button: 1, x: 300, y: 400, xButton: 2, wantX: 310, wantY: 420, heldMask: xproto.KeyButMaskButton2},
		{button: 2, x: 1269, y: 779, xButton: 3, wantX: 1279, wantY: 799, heldMask: xproto.KeyButMaskButton3},
	} {
		apply(t, inj, wire.InputEvent{Type: "button", Button: tc.button, X: tc.x, Y: tc.y, Down: true}, origin)
		press, ok := w.next(t, false).(xproto.ButtonPressEvent)
		if !ok || press.Detail != tc.xButton || press.RootX != tc.wantX || press.RootY != tc.wantY {
			t.Fatalf("button %d down: got %v, want ButtonPress %d at (%d,%d)", tc.button, press, tc.xButton, tc.wantX, tc.wantY)
		}
		if _, buttons := inj.held(); !slices.Equal(buttons, []int{tc.button}) {
			t.Errorf("held buttons after press = %v, want [%d]", buttons, tc.button)
		}
		apply(t, inj, wire.InputEvent{Type: "button", Button: tc.button, X: tc.x, Y: tc.y}, origin)
		release, ok := w.next(t, false).(xproto.ButtonReleaseEvent)
		if !ok || release.Detail != tc.xButton || release.State&tc.heldMask == 0 {
			t.Fatalf("button %d up: got %v, want ButtonRelease %d with the button held before", tc.button, release, tc.xButton)
		}
	}
}

func TestX11Wheel(t *testing.T) {
	leak.Check(t)
	inj, w := newX11(t)
	for _, tc := range []struct {
		dx, dy int
		want   []xproto.Button // one press and release each
	}{
		{dy: 1, want: []xproto.Button{5}},     // DOM deltaY > 0: down
		{dy: -2, want: []xproto.Button{4, 4}}, // up, two notches
		{dx: 1, want: []xproto.Button{7}},     // right
		{dx: -1, dy: 1, want: []xproto.Button{6, 5}},
	} {
		apply(t, inj, wire.InputEvent{Type: "wheel", DX: tc.dx, DY: tc.dy}, image.Point{})
		for _, b := range tc.want {
			if ev, ok := w.next(t, false).(xproto.ButtonPressEvent); !ok || ev.Detail != b {
				t.Fatalf("wheel (%d,%d): got %v, want ButtonPress %d", tc.dx, tc.dy, ev, b)
			}
			if ev, ok := w.next(t, false).(xproto.ButtonReleaseEvent); !ok || ev.Detail != b {
				t.Fatalf("wheel (%d,%d): got %v, want ButtonRelease %d", tc.dx, tc.dy, ev, b)
			}
		}
	}
	w.quiet(t)
}

// nextKey returns the next key event: its keycode, whether it is a press,
// and the modifier state.
func nextKey(t *testing.T, w *window) (kc xproto.Keycode, press bool, state uint16) {
	t.Helper()
	switch ev := w.next(t, false).(type) {
	case xproto.KeyPressEvent:
		return ev.Detail, true, ev.State
	case xproto.KeyReleaseEvent:
		return ev.Detail, false, ev.State
	default:
		t.Fatalf("got %v, want a key event", ev)
		return 0, false, 0
	}
}

// wantKey reads the next key event and checks it is a press or release of
// the key carrying sym.
func wantKey(t *testing.T, w *window, sym xproto.Keysym, press bool) (state uint16) {
	t.Helper()
	kc, p, state := nextKey(t, w)
	if p != press || !w.carries(kc, sym) {
		t.Fatalf("got key %d (%#x) press=%v, want keysym %#x press=%v", kc, w.keysyms[kc], p, sym, press)
	}
	return state
}

const (
	xkA        = 0x61
	xkB        = 0x62
	xkReturn   = 0xff0d
	xkShiftL   = 0xffe1
	xkControlL = 0xffe3
	xkAltL     = 0xffe9
	xkDelete   = 0xffff
)

func TestX11ShiftA(t *testing.T) {
	leak.Check(t)
	inj, w := newX11(t)
	key := func(code string, down bool) {
		apply(t, inj, wire.InputEvent{Type: "key", Code: code, Down: down}, image.Point{})
	}
	key("ShiftLeft", true)
	wantKey(t, w, xkShiftL, true)
	key("KeyA", true)
	if state := wantKey(t, w, xkA, true); state&xproto.KeyButMaskShift == 0 {
		t.Errorf("KeyA press state %#x lacks Shift", state)
	}
	key("KeyA", false)
	if got, press, _ := nextKey(t, w); got != w.keycode(t, xkA) || press {
		t.Errorf("got key %d press=%v, want release of %d", got, press, w.keycode(t, xkA))
	}
	key("ShiftLeft", false)
	wantKey(t, w, xkShiftL, false)
	key("Enter", true)
	if state := wantKey(t, w, xkReturn, true); state&xproto.KeyButMaskShift != 0 {
		t.Errorf("Enter after Shift was released has state %#x", state)
	}
	key("Enter", false)
	wantKey(t, w, xkReturn, false)
}

func TestX11ReleaseAll(t *testing.T) {
	leak.Check(t)
	inj, w := newX11(t)
	apply(t, inj, wire.InputEvent{Type: "key", Code: "ControlLeft", Down: true}, image.Point{})
	apply(t, inj, wire.InputEvent{Type: "key", Code: "KeyB", Down: true}, image.Point{})
	apply(t, inj, wire.InputEvent{Type: "button", Button: 0, X: 5, Y: 5, Down: true}, image.Point{})
	wantKey(t, w, xkControlL, true)
	wantKey(t, w, xkB, true)
	if ev, ok := w.next(t, false).(xproto.ButtonPressEvent); !ok || ev.Detail != 1 {
		t.Fatalf("got %v, want ButtonPress 1", ev)
	}
	if err := inj.ReleaseAll(); err != nil {
		t.Fatal(err)
	}
	if ev, ok := w.next(t, false).(xproto.ButtonReleaseEvent); !ok || ev.Detail != 1 {
		t.Fatalf("got %v, want ButtonRelease 1", ev)
	}
	wantKey(t, w, xkB, false)        // ordinary keys first,
	wantKey(t, w, xkControlL, false) // modifiers last
	if keys, buttons := inj.held(); len(keys)+len(buttons) != 0 {
		t.Errorf("still held after ReleaseAll: keys %v buttons %v", keys, buttons)
	}
	if err := inj.ReleaseAll(); err != nil { // nothing left to release
		t.Fatal(err)
	}
	w.quiet(t)
}

func TestX11UnknownKey(t *testing.T) {
	leak.Check(t)
	inj, w := newX11(t)
	for _, code := range []string{"Fn", "", "keya", "F25"} {
		err := inj.Apply(wire.InputEvent{Type: "key", Code: code, Down: true}, image.Point{})
		if !errors.Is(err, ErrUnknownKey) || !strings.HasPrefix(err.Error(), "input.Apply: ") {
			t.Errorf("Apply(key %q) = %v, want input.Apply: …ErrUnknownKey", code, err)
		}
	}
	w.quiet(t)
}

func TestX11CtrlAltDel(t *testing.T) {
	leak.Check(t)
	inj, w := newX11(t)
	if err := inj.CtrlAltDel(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		sym   xproto.Keysym
		press bool
	}{{xkControlL, true}, {xkAltL, true}, {xkDelete, true}, {xkDelete, false}, {xkAltL, false}, {xkControlL, false}} {
		wantKey(t, w, want.sym, want.press)
	}
}

// x11Keysyms is what each DOM code must produce on an X server with a US
// keymap (the keysym of the key's first level, or any level for the keypad).
var x11Keysyms = map[string]xproto.Keysym{
	"Enter": xkReturn, "Space": 0x20, "Backspace": 0xff08, "Tab": 0xff09, "Escape": 0xff1b,
	"ShiftLeft": xkShiftL, "ShiftRight": 0xffe2, "ControlLeft": xkControlL, "ControlRight": 0xffe4,
	"AltLeft": xkAltL, "AltRight": 0xffea, "MetaLeft": 0xffeb, "MetaRight": 0xffec,
	"ArrowUp": 0xff52, "ArrowDown": 0xff54, "ArrowLeft": 0xff51, "ArrowRight": 0xff53,
	"Home": 0xff50, "End": 0xff57, "PageUp": 0xff55, "PageDown": 0xff56, "Insert": 0xff63, "Delete": xkDelete,
	"Minus": '-', "Equal": '=', "BracketLeft": '[', "BracketRight": ']', "Backslash": '\\',
	"Semicolon": ';', "Quote": '\'', "Backquote": '`', "Comma": ',', "Period": '.', "Slash": '/',
	"CapsLock":    0xffe5,
	"NumpadEnter": 0xff8d, "NumpadAdd": 0xffab, "NumpadSubtract": 0xffad,
	"NumpadMultiply": 0xffaa, "NumpadDivide": 0xffaf, "NumpadDecimal": 0xffae,
}

func init() {
	for c := 'A'; c <= 'Z'; c++ {
		x11Keysyms["Key"+string(c)] = xproto.Keysym(c - 'A' + 'a')
	}
	for d := range 10 {
		x11Keysyms[fmt.Sprintf("Digit%d", d)] = xproto.Keysym('0' + d)
		x11Keysyms[fmt.Sprintf("Numpad%d", d)] = xproto.Keysym(0xffb0 + d) // XK_KP_0…
	}
	for f := 1; f <= 12; f++ {
		x11Keysyms[fmt.Sprintf("F%d", f)] = xproto.Keysym(0xffbe + f - 1) // XK_F1…
	}
}

// TestX11EveryKey presses and releases every key of the table and checks
// the X server saw the right physical key.
func TestX11EveryKey(t *testing.T) {
	leak.Check(t)
	inj, w := newX11(t)
	codes := make([]string, 0, len(keyTable))
	for code := range keyTable {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		sym, ok := x11Keysyms[code]
		if !ok {
			t.Errorf("%s: no expected keysym in this test", code)
			continue
		}
		times := 1
		if strings.HasSuffix(code, "Lock") {
			times = 2 // toggle the lock back off
		}
		for range times {
			for _, down := range []bool{true, false} {
				if err := inj.Apply(wire.InputEvent{Type: "key", Code: code, Down: down}, image.Point{}); err != nil {
					t.Fatalf("%s: %v", code, err)
				}
				kc, press, _ := nextKey(t, w)
				if press != down || !w.carries(kc, sym) {
					t.Errorf("%s down=%v: X saw keycode %d %#x press=%v, want keysym %#x", code, down, kc, w.keysyms[kc], press, sym)
				}
			}
		}
	}
	w.quiet(t)
}

func TestX11NewDisplay(t *testing.T) {
	leak.Check(t)
	display := testDisplay(t)
	if _, err := New(display); err != nil {
		t.Fatal(err)
	}
	if _, err := New(display); err != nil {
		t.Fatalf("second New on the same display: %v", err)
	}
	if robotgo.MouseSleep != 0 || robotgo.KeySleep != 0 {
		t.Errorf("robotgo sleeps: MouseSleep %d ms, KeySleep %d ms; want 0", robotgo.MouseSleep, robotgo.KeySleep)
	}
	// robotgo has one connection per process: another display is refused
	// rather than silently driving the first one.
	if _, err := New(":4242"); err == nil || !strings.HasPrefix(err.Error(), "input.New: ") {
		t.Fatalf("New(another display) = %v, want an input.New error", err)
	}
	t.Setenv("DISPLAY", "")
	if _, err := New(""); err == nil {
		t.Fatal("New(\"\") with no $DISPLAY succeeded")
	}
}

// BenchmarkMove measures one injected mouse move, to the server and back
// (robotgo syncs after each request).
func BenchmarkMove(b *testing.B) {
	display := testDisplay(b)
	b.Setenv("DISPLAY", display)
	inj, err := New(display)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := inj.Apply(wire.InputEvent{Type: "move", X: i % screenW, Y: i % screenH}, image.Point{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestX11ProtocolErrorIsReturned sends a key whose keysym is on no key of
// the test server's map (robotgo's "f24"): XTest answers BadValue, which
// Xlib's default handler would turn into exit(1).
func TestX11ProtocolErrorIsReturned(t *testing.T) {
	leak.Check(t)
	_, w := newX11(t)
	err := x11Backend{}.key(key{name: "f24"}, true)
	if err == nil || !strings.Contains(err.Error(), "X protocol error 2") {
		t.Fatalf("key f24 = %v, want X protocol error 2 (BadValue)", err)
	}
	// The connection still works.
	if err := (x11Backend{}).key(keyTable["KeyA"], true); err != nil {
		t.Fatal(err)
	}
	wantKey(t, w, xkA, true)
	if err := (x11Backend{}).key(keyTable["KeyA"], false); err != nil {
		t.Fatal(err)
	}
	wantKey(t, w, xkA, false)
}
