package xclient

import (
	"fmt"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// keymap maps keycodes to the keysym in the first column of the server's
// keyboard mapping (the unshifted symbol).
type keymap struct {
	min  byte
	syms []xproto.Keysym // one per keycode from min
}

func loadKeymap(conn *xgb.Conn) (keymap, error) {
	setup := xproto.Setup(conn)
	n := int(setup.MaxKeycode) - int(setup.MinKeycode) + 1
	r, err := xproto.GetKeyboardMapping(conn, setup.MinKeycode, byte(n)).Reply()
	if err != nil {
		return keymap{}, fmt.Errorf("reading the keyboard mapping: %w", err)
	}
	per := int(r.KeysymsPerKeycode)
	km := keymap{min: byte(setup.MinKeycode), syms: make([]xproto.Keysym, n)}
	for i := range n {
		if per > 0 && (i+1)*per <= len(r.Keysyms) {
			km.syms[i] = r.Keysyms[i*per]
		}
	}
	return km, nil
}

// keysym returns the unshifted keysym of keycode, 0 if it has none.
func (m keymap) keysym(keycode byte) xproto.Keysym {
	i := int(keycode) - int(m.min)
	if i < 0 || i >= len(m.syms) {
		return 0
	}
	return m.syms[i]
}

// keycode returns a keycode whose unshifted keysym is named name.
func (m keymap) keycode(name string) (byte, bool) {
	for i, s := range m.syms {
		if s != 0 && KeysymName(uint32(s)) == name {
			return m.min + byte(i), true
		}
	}
	return 0, false
}

func (m keymap) name(keycode byte) string { return KeysymName(uint32(m.keysym(keycode))) }

// keysymNames holds the X names (as in X11/keysymdef.h, without "XK_") of
// the keysyms outside the Latin-1 letter and digit ranges that tests use.
var keysymNames = map[uint32]string{
	0x0020: "space",
	0xff08: "BackSpace",
	0xff09: "Tab",
	0xff0d: "Return",
	0xff1b: "Escape",
	0xffff: "Delete",
	0xff50: "Home",
	0xff51: "Left",
	0xff52: "Up",
	0xff53: "Right",
	0xff54: "Down",
	0xff55: "Prior",
	0xff56: "Next",
	0xff57: "End",
	0xff63: "Insert",
	0xffe1: "Shift_L",
	0xffe2: "Shift_R",
	0xffe3: "Control_L",
	0xffe4: "Control_R",
	0xffe5: "Caps_Lock",
	0xffe9: "Alt_L",
	0xffea: "Alt_R",
	0xffeb: "Super_L",
	0xffec: "Super_R",
	0xfe03: "ISO_Level3_Shift",
}

// KeysymName returns the X name of keysym: lower- and upper-case letters
// and digits as themselves ("a", "Z", "7"), function keys as "F1"…"F12",
// the common editing, navigation and modifier keys by their X names
// ("Return", "space", "BackSpace", "Tab", "Escape", "Delete", "Left",
// "Shift_L", "Control_L", "Alt_L", …), anything else as "0x%x".
func KeysymName(keysym uint32) string {
	switch {
	case keysym >= 'a' && keysym <= 'z', keysym >= 'A' && keysym <= 'Z', keysym >= '0' && keysym <= '9':
		return string(rune(keysym))
	case keysym >= 0xffbe && keysym <= 0xffc9: // XK_F1 … XK_F12
		return fmt.Sprintf("F%d", keysym-0xffbe+1)
	}
	if n, ok := keysymNames[keysym]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", keysym)
}
