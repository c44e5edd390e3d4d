package hotkey

import (
	"errors"
	"fmt"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// lockMods are the modifiers a grab ignores: Caps Lock (Lock) and Num
// Lock (Mod2 on every common layout). X matches grabs on the exact
// modifier state, so the key is grabbed once for each combination.
var lockMods = []uint16{0, xproto.ModMaskLock, xproto.ModMask2, xproto.ModMaskLock | xproto.ModMask2}

func xmods(m Mods) uint16 {
	var x uint16
	if m&Shift != 0 {
		x |= xproto.ModMaskShift
	}
	if m&Ctrl != 0 {
		x |= xproto.ModMaskControl
	}
	if m&Alt != 0 {
		x |= xproto.ModMask1
	}
	if m&Super != 0 {
		x |= xproto.ModMask4
	}
	return x
}

// start grabs the key on the root window of cfg.Display and watches for
// its presses on a connection of its own.
func start(cfg Config, done chan struct{}) (func(), error) {
	conn, err := xgb.NewConnDisplay(cfg.Display)
	if err != nil {
		close(done)
		return nil, fmt.Errorf("connecting to the X server: %w", err)
	}
	fail := func(err error) (func(), error) {
		conn.Close()
		close(done)
		return nil, err
	}
	setup := xproto.Setup(conn)
	root := setup.DefaultScreen(conn).Root
	codes, err := keycodes(conn, cfg.Key.keysym)
	if err != nil {
		return fail(err)
	}
	if len(codes) == 0 {
		return fail(fmt.Errorf("%w: no keycode produces %s on this keyboard", ErrBadKey, cfg.Key.Name))
	}
	mods := xmods(cfg.Key.Mods)
	for _, code := range codes {
		for _, lm := range lockMods {
			err := xproto.GrabKeyChecked(conn, true, root, mods|lm, code, xproto.GrabModeAsync, xproto.GrabModeAsync).Check()
			var access xproto.AccessError
			if errors.As(err, &access) {
				return fail(ErrTaken)
			}
			if err != nil {
				return fail(fmt.Errorf("grabbing the key: %w", err))
			}
		}
	}
	isCode := map[xproto.Keycode]bool{}
	for _, c := range codes {
		isCode[c] = true
	}
	go func() {
		defer close(done)
		for {
			ev, err := conn.WaitForEvent()
			switch {
			case ev == nil && err == nil:
				return // the connection closed
			case err != nil:
				cfg.Logger.Debug("an X error on the hotkey's connection", "err", err)
				continue
			}
			// At the key's release, not its press: by then the reader of
			// this connection has decoded the press's events, and the
			// handler (which captures the screen, opening X connections
			// whose extension Init writes jezek/xgb's process-wide event
			// table) does not run beside that decoding.
			if kr, ok := ev.(xproto.KeyReleaseEvent); ok && isCode[kr.Detail] && kr.State&^(xproto.ModMaskLock|xproto.ModMask2) == mods {
				cfg.OnPress()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(conn.Close) }, nil
}

// keycodes returns the keycodes whose keyboard mapping holds keysym.
func keycodes(conn *xgb.Conn, keysym uint32) ([]xproto.Keycode, error) {
	setup := xproto.Setup(conn)
	n := int(setup.MaxKeycode) - int(setup.MinKeycode) + 1
	r, err := xproto.GetKeyboardMapping(conn, setup.MinKeycode, byte(n)).Reply()
	if err != nil {
		return nil, fmt.Errorf("reading the keyboard mapping: %w", err)
	}
	per := int(r.KeysymsPerKeycode)
	var out []xproto.Keycode
	for i := range n {
		for j := range per {
			if k := i*per + j; k < len(r.Keysyms) && uint32(r.Keysyms[k]) == keysym {
				out = append(out, xproto.Keycode(int(setup.MinKeycode)+i))
				break
			}
		}
	}
	return out, nil
}
