// Package hotkey watches for a global hotkey — F8 unless configured — the
// end user presses to report a problem (T5): the screen is captured as it
// is at the press, before any window of ours covers it.
//
// # Platforms
//
// On X11 the key is grabbed on the root window (XGrabKey through
// jezek/xgb), with Caps Lock and Num Lock either way, so the press reaches
// the agent whichever window has the focus and no other client sees it.
// On Windows it is RegisterHotKey on a thread of its own that runs a
// message loop. Elsewhere Start returns ErrUnsupported.
//
// # Usage
//
//	k, err := hotkey.ParseKey("F8")        // or "Ctrl+Shift+F8"
//	h, err := hotkey.Start(hotkey.Config{Display: ":0", Key: k, OnPress: report})
//	defer h.Close()
//
// A key another program holds already is ErrTaken: the agent then offers
// the button on its page only.
package hotkey

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

var (
	// ErrUnsupported is returned by Start where no global hotkey can be
	// registered (no implementation for this OS). It matches
	// errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("hotkey: global hotkeys are not supported here: %w", errors.ErrUnsupported)
	// ErrTaken is returned by Start when another program holds the key.
	ErrTaken = errors.New("hotkey: the key is taken by another program")
	// ErrBadKey is returned by ParseKey for a key it does not know.
	ErrBadKey = errors.New("hotkey: unknown key")
)

// Default is the key used when none is configured.
const Default = "F8"

// Mods are modifier keys that must be held with a Key.
type Mods uint8

// The modifiers.
const (
	Shift Mods = 1 << iota
	Ctrl
	Alt
	Super // the Windows key
)

// Key is a hotkey: one key and the modifiers held with it.
type Key struct {
	Name string // canonical name: "F8", "Pause", "ScrollLock", "PrintScreen"
	Mods Mods
	// keysym is the X11 keysym, vk the Windows virtual-key code.
	keysym uint32
	vk     uint32
}

func (k Key) String() string {
	var parts []string
	for _, m := range []struct {
		m    Mods
		name string
	}{{Ctrl, "Ctrl"}, {Alt, "Alt"}, {Shift, "Shift"}, {Super, "Super"}} {
		if k.Mods&m.m != 0 {
			parts = append(parts, m.name)
		}
	}
	return strings.Join(append(parts, k.Name), "+")
}

// ParseKey parses a key such as "F8", "ctrl+shift+f12" or "Pause":
// modifiers (Ctrl, Alt, Shift, Super or Win) joined by '+' to one of
// F1–F24, Pause, ScrollLock or PrintScreen, in any case. "" is Default.
func ParseKey(s string) (Key, error) {
	if strings.TrimSpace(s) == "" {
		s = Default
	}
	parts := strings.Split(s, "+")
	var k Key
	for _, p := range parts[:len(parts)-1] {
		switch strings.ToLower(strings.TrimSpace(p)) {
		case "ctrl", "control":
			k.Mods |= Ctrl
		case "alt":
			k.Mods |= Alt
		case "shift":
			k.Mods |= Shift
		case "super", "win", "meta":
			k.Mods |= Super
		default:
			return Key{}, fmt.Errorf("%w: modifier %q in %q", ErrBadKey, p, s)
		}
	}
	name := strings.ToLower(strings.TrimSpace(parts[len(parts)-1]))
	switch name {
	case "pause":
		k.Name, k.keysym, k.vk = "Pause", 0xff13, 0x13
	case "scrolllock", "scroll_lock":
		k.Name, k.keysym, k.vk = "ScrollLock", 0xff14, 0x91
	case "printscreen", "print":
		k.Name, k.keysym, k.vk = "PrintScreen", 0xff61, 0x2c
	default:
		n, err := strconv.Atoi(strings.TrimPrefix(name, "f"))
		if !strings.HasPrefix(name, "f") || err != nil || n < 1 || n > 24 || name != "f"+strconv.Itoa(n) {
			return Key{}, fmt.Errorf("%w: %q (F1–F24, Pause, ScrollLock or PrintScreen, with Ctrl, Alt, Shift or Super)", ErrBadKey, s)
		}
		k.Name, k.keysym, k.vk = "F"+strconv.Itoa(n), 0xffbe+uint32(n-1), 0x70+uint32(n-1)
	}
	return k, nil
}

// Config configures a hotkey.
type Config struct {
	// Display is the X11 display ("" = $DISPLAY); unused on Windows.
	Display string
	Key     Key // the zero Key is Default
	// OnPress is called at each press (on X11 when the key is released),
	// from the hotkey's own goroutine, one call at a time; it should
	// return quickly.
	OnPress func()
	Logger  *slog.Logger
}

// Hotkey is a registered hotkey.
type Hotkey struct {
	key  Key
	stop func() // ends the watcher
	done chan struct{}
}

// Start registers the key and calls cfg.OnPress at each press until
// Close.
func Start(cfg Config) (*Hotkey, error) {
	if cfg.OnPress == nil {
		return nil, errors.New("hotkey.Start: OnPress is required")
	}
	if cfg.Key.Name == "" {
		k, err := ParseKey(Default)
		if err != nil {
			return nil, err
		}
		cfg.Key = k
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hotkey{key: cfg.Key, done: make(chan struct{})}
	stop, err := start(cfg, h.done)
	if err != nil {
		return nil, fmt.Errorf("hotkey.Start(%s): %w", cfg.Key, err)
	}
	h.stop = stop
	return h, nil
}

// Key is the registered key.
func (h *Hotkey) Key() Key { return h.key }

// Close unregisters the key and returns once the watcher has ended. It is
// idempotent.
func (h *Hotkey) Close() error {
	h.stop()
	<-h.done
	return nil
}
