package hotkey

import (
	"errors"
	"testing"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, want string
		keysym   uint32
		vk       uint32
	}{
		{"", "F8", 0xffc5, 0x77},
		{"F8", "F8", 0xffc5, 0x77},
		{"f1", "F1", 0xffbe, 0x70},
		{"F24", "F24", 0xffd5, 0x87},
		{"ctrl+shift+F12", "Ctrl+Shift+F12", 0xffc9, 0x7b},
		{"Win + Alt + pause", "Alt+Super+Pause", 0xff13, 0x13},
		{"scrolllock", "ScrollLock", 0xff14, 0x91},
		{"Print", "PrintScreen", 0xff61, 0x2c},
	} {
		k, err := ParseKey(c.in)
		if err != nil {
			t.Errorf("ParseKey(%q): %v", c.in, err)
			continue
		}
		if k.String() != c.want || k.keysym != c.keysym || k.vk != c.vk {
			t.Errorf("ParseKey(%q) = %s (keysym %#x, vk %#x), want %s (%#x, %#x)", c.in, k, k.keysym, k.vk, c.want, c.keysym, c.vk)
		}
	}
	for _, in := range []string{"F0", "F25", "F08", "a", "ctrl+", "hyper+F8", "F8+ctrl", "f-1"} {
		if _, err := ParseKey(in); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseKey(%q) = %v, want ErrBadKey", in, err)
		}
	}
}
