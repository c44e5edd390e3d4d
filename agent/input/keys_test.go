package input

import (
	"fmt"
	"strings"
	"testing"
)

// requiredCodes are the DOM codes the browser client may send that the
// injector must support (the design card's list).
func requiredCodes() []string {
	codes := []string{
		"Enter", "Space", "Backspace", "Tab", "Escape",
		"ShiftLeft", "ShiftRight", "ControlLeft", "ControlRight", "AltLeft", "AltRight", "MetaLeft", "MetaRight",
		"ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown", "Insert", "Delete",
		"Minus", "Equal", "BracketLeft", "BracketRight", "Backslash", "Semicolon", "Quote", "Backquote",
		"Comma", "Period", "Slash", "CapsLock",
		"NumpadEnter", "NumpadAdd", "NumpadSubtract", "NumpadMultiply", "NumpadDivide", "NumpadDecimal",
	}
	for c := 'A'; c <= 'Z'; c++ {
		codes = append(codes, "Key"+string(c))
	}
	for d := range 10 {
		codes = append(codes, fmt.Sprintf("Digit%d", d), fmt.Sprintf("Numpad%d", d))
	}
	for f := 1; f <= 12; f++ {
		codes = append(codes, fmt.Sprintf("F%d", f))
	}
	return codes
}

func TestKeyTableCoversRequiredCodes(t *testing.T) {
	required := requiredCodes()
	for _, code := range required {
		if _, ok := keyTable[code]; !ok {
			t.Errorf("keyTable lacks %s", code)
		}
	}
	if len(keyTable) != len(required) {
		t.Errorf("keyTable has %d codes, the required list %d: update the list when adding keys", len(keyTable), len(required))
	}
}

func TestKeyTableIsConsistent(t *testing.T) {
	names := map[string]string{}
	scans := map[[2]uint16]string{}
	for code, k := range keyTable {
		if k.name == "" || k.name != strings.ToLower(k.name) {
			t.Errorf("%s: robotgo name %q must be non-empty and lower case (robotgo adds Shift for upper case)", code, k.name)
		}
		if other, dup := names[k.name]; dup {
			t.Errorf("%s and %s share robotgo name %q", code, other, k.name)
		}
		names[k.name] = code
		if k.scan == 0 || k.scan >= 0x80 {
			t.Errorf("%s: scancode %#x is not a set-1 make code", code, k.scan)
		}
		ext := uint16(0)
		if k.extended {
			ext = 0xE0
		}
		if other, dup := scans[[2]uint16{ext, k.scan}]; dup {
			t.Errorf("%s and %s share scancode %#x/%#x", code, other, ext, k.scan)
		}
		scans[[2]uint16{ext, k.scan}] = code
		isMod := strings.HasPrefix(code, "Shift") || strings.HasPrefix(code, "Control") ||
			strings.HasPrefix(code, "Alt") || strings.HasPrefix(code, "Meta")
		if k.modifier != isMod {
			t.Errorf("%s: modifier = %v, want %v", code, k.modifier, isMod)
		}
	}
}

// TestKeyTableEntries pins entries whose values are easy to get wrong:
// the E0-prefixed keys, the keypad, and punctuation robotgo names by its
// character.
func TestKeyTableEntries(t *testing.T) {
	for code, want := range map[string]key{
		"KeyA":           {name: "a", scan: 0x1E},
		"KeyZ":           {name: "z", scan: 0x2C},
		"Digit0":         {name: "0", scan: 0x0B},
		"Digit1":         {name: "1", scan: 0x02},
		"F10":            {name: "f10", scan: 0x44},
		"F11":            {name: "f11", scan: 0x57},
		"Escape":         {name: "esc", scan: 0x01},
		"Enter":          {name: "enter", scan: 0x1C},
		"NumpadEnter":    {name: "num_enter", scan: 0x1C, extended: true},
		"ControlRight":   {name: "ctrlr", scan: 0x1D, extended: true, modifier: true},
		"AltRight":       {name: "altr", scan: 0x38, extended: true, modifier: true},
		"MetaLeft":       {name: "cmdl", scan: 0x5B, extended: true, modifier: true},
		"ShiftRight":     {name: "shiftr", scan: 0x36, modifier: true},
		"ArrowUp":        {name: "up", scan: 0x48, extended: true},
		"Numpad8":        {name: "num8", scan: 0x48},
		"Delete":         {name: "delete", scan: 0x53, extended: true},
		"NumpadDecimal":  {name: "num.", scan: 0x53},
		"Slash":          {name: "/", scan: 0x35},
		"NumpadDivide":   {name: "num/", scan: 0x35, extended: true},
		"NumpadMultiply": {name: "num*", scan: 0x37},
		"Backslash":      {name: `\`, scan: 0x2B},
		"Quote":          {name: "'", scan: 0x28},
		"Backquote":      {name: "`", scan: 0x29},
	} {
		if got := keyTable[code]; got != want {
			t.Errorf("keyTable[%q] = %+v, want %+v", code, got, want)
		}
	}
}
