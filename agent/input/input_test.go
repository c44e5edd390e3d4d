package input

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/wire"
)

// fakeBackend records what it is asked to inject; fail makes calls whose
// record starts with it fail.
type fakeBackend struct {
	mu    sync.Mutex
	calls []string
	fail  string
}

func (f *fakeBackend) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if f.fail != "" && strings.HasPrefix(call, f.fail) {
		return errors.New("injected failure")
	}
	return nil
}

func (f *fakeBackend) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeBackend) move(x, y int) error { return f.record(fmt.Sprintf("move %d,%d", x, y)) }
func (f *fakeBackend) button(b int, down bool) error {
	return f.record(fmt.Sprintf("button %d %s", b, upDownWord(down)))
}
func (f *fakeBackend) wheel(dx, dy int) error { return f.record(fmt.Sprintf("wheel %d,%d", dx, dy)) }
func (f *fakeBackend) key(k key, down bool) error {
	return f.record(fmt.Sprintf("key %s %s", k.name, upDownWord(down)))
}
func (f *fakeBackend) ctrlAltDel() error { return f.record("cad") }

func upDownWord(down bool) string {
	if down {
		return "down"
	}
	return "up"
}

func TestApply(t *testing.T) {
	origin := image.Pt(1920, -100) // a monitor right of the primary, raised
	for _, tc := range []struct {
		name  string
		ev    wire.InputEvent
		want  []string
		error error
	}{
		{"move adds origin", wire.InputEvent{Type: "move", X: 10, Y: 200}, []string{"move 1930,100"}, nil},
		{"button moves then presses", wire.InputEvent{Type: "button", X: 1, Y: 2, Button: 2, Down: true}, []string{"move 1921,-98", "button 2 down"}, nil},
		{"button release", wire.InputEvent{Type: "button", Button: 1}, []string{"move 1920,-100", "button 1 up"}, nil},
		{"button 3 refused", wire.InputEvent{Type: "button", Button: 3, Down: true}, nil, ErrInvalidEvent},
		{"button -1 refused", wire.InputEvent{Type: "button", Button: -1, Down: true}, nil, ErrInvalidEvent},
		{"x beyond limit", wire.InputEvent{Type: "move", X: MaxCoord + 1}, nil, ErrInvalidEvent},
		{"sum beyond limit", wire.InputEvent{Type: "move", X: MaxCoord - 1000, Y: 0}, nil, ErrInvalidEvent},
		{"y at -limit", wire.InputEvent{Type: "move", Y: -MaxCoord + 100}, []string{"move 1920,-32768"}, nil},
		{"minimum int", wire.InputEvent{Type: "move", X: math.MinInt}, nil, ErrInvalidEvent},
		{"maximum int on a button", wire.InputEvent{Type: "button", Y: math.MaxInt, Down: true}, nil, ErrInvalidEvent},
		{"wheel down", wire.InputEvent{Type: "wheel", DY: 3}, []string{"wheel 0,3"}, nil},
		{"wheel at limits", wire.InputEvent{Type: "wheel", DX: -MaxNotch, DY: MaxNotch}, []string{"wheel -20,20"}, nil},
		{"wheel beyond limit", wire.InputEvent{Type: "wheel", DY: MaxNotch + 1}, nil, ErrInvalidEvent},
		{"wheel minimum int", wire.InputEvent{Type: "wheel", DX: math.MinInt}, nil, ErrInvalidEvent},
		{"wheel of nothing", wire.InputEvent{Type: "wheel"}, nil, nil},
		{"key", wire.InputEvent{Type: "key", Code: "KeyQ", Down: true}, []string{"key q down"}, nil},
		{"key release", wire.InputEvent{Type: "key", Code: "NumpadAdd"}, []string{"key num+ up"}, nil},
		{"unknown key", wire.InputEvent{Type: "key", Code: "Fn", Down: true}, nil, ErrUnknownKey},
		{"key codes are case-sensitive", wire.InputEvent{Type: "key", Code: "enter", Down: true}, nil, ErrUnknownKey},
		{"unknown type", wire.InputEvent{Type: "click", X: 1}, nil, ErrInvalidEvent},
		{"no type", wire.InputEvent{}, nil, ErrInvalidEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeBackend{}
			err := newInjector(f).Apply(tc.ev, origin)
			if !errors.Is(err, tc.error) || (err == nil) != (tc.error == nil) {
				t.Fatalf("Apply = %v, want %v", err, tc.error)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "input.Apply: ") {
				t.Errorf("error %q does not name the operation", err)
			}
			if diff := cmp.Diff(tc.want, f.take()); diff != "" {
				t.Errorf("injected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReleaseAll(t *testing.T) {
	f := &fakeBackend{}
	in := newInjector(f)
	for _, ev := range []wire.InputEvent{
		{Type: "key", Code: "ShiftLeft", Down: true},
		{Type: "key", Code: "KeyA", Down: true},
		{Type: "key", Code: "ControlRight", Down: true},
		{Type: "key", Code: "Digit1", Down: true},
		{Type: "key", Code: "Digit1"}, // released by the technician: not released again
		{Type: "button", Button: 0, Down: true},
		{Type: "button", Button: 2, Down: true},
		{Type: "button", Button: 2},
	} {
		if err := in.Apply(ev, image.Point{}); err != nil {
			t.Fatal(err)
		}
	}
	f.take()
	if err := in.ReleaseAll(); err != nil {
		t.Fatal(err)
	}
	got := f.take()
	// Buttons, then ordinary keys, then modifiers (in any order among themselves).
	if len(got) != 4 {
		t.Fatalf("ReleaseAll injected %q, want 4 releases", got)
	}
	slices.Sort(got[2:])
	if diff := cmp.Diff([]string{"button 0 up", "key a up", "key ctrlr up", "key shiftl up"}, got); diff != "" {
		t.Errorf("ReleaseAll (-want +got):\n%s", diff)
	}
	if keys, buttons := in.held(); len(keys)+len(buttons) != 0 {
		t.Errorf("held after ReleaseAll: %v %v", keys, buttons)
	}
	if err := in.ReleaseAll(); err != nil || len(f.take()) != 0 {
		t.Errorf("second ReleaseAll: err %v, injected something", err)
	}
}

func TestReleaseAllKeepsWhatFailed(t *testing.T) {
	f := &fakeBackend{}
	in := newInjector(f)
	for _, code := range []string{"AltLeft", "KeyX", "KeyY"} {
		if err := in.Apply(wire.InputEvent{Type: "key", Code: code, Down: true}, image.Point{}); err != nil {
			t.Fatal(err)
		}
	}
	f.fail = "key x up"
	err := in.ReleaseAll()
	if err == nil || !strings.HasPrefix(err.Error(), "input.ReleaseAll: ") || !strings.Contains(err.Error(), "KeyX") {
		t.Fatalf("ReleaseAll = %v, want an input.ReleaseAll error naming KeyX", err)
	}
	if keys, _ := in.held(); !slices.Equal(keys, []string{"KeyX"}) {
		t.Errorf("held after a failed release = %v, want [KeyX]", keys)
	}
	f.fail = ""
	f.take()
	if err := in.ReleaseAll(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"key x up"}, f.take()); diff != "" {
		t.Errorf("retry (-want +got):\n%s", diff)
	}
}

func TestFailedPressIsNotHeld(t *testing.T) {
	f := &fakeBackend{fail: "key"}
	in := newInjector(f)
	if err := in.Apply(wire.InputEvent{Type: "key", Code: "KeyA", Down: true}, image.Point{}); err == nil {
		t.Fatal("Apply with a failing backend succeeded")
	}
	f.fail = "button"
	if err := in.Apply(wire.InputEvent{Type: "button", Down: true}, image.Point{}); err == nil {
		t.Fatal("Apply with a failing backend succeeded")
	}
	if keys, buttons := in.held(); len(keys)+len(buttons) != 0 {
		t.Errorf("held after failed presses: %v %v", keys, buttons)
	}
}

func TestChord(t *testing.T) {
	f := &fakeBackend{}
	if err := chord(f, "ControlLeft", "AltLeft", "Delete"); err != nil {
		t.Fatal(err)
	}
	want := []string{"key ctrll down", "key altl down", "key delete down", "key delete up", "key altl up", "key ctrll up"}
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Errorf("chord (-want +got):\n%s", diff)
	}
	// A failed press stops the chord and releases what went down.
	f.fail = "key delete down"
	if err := chord(f, "ControlLeft", "AltLeft", "Delete"); err == nil || !strings.Contains(err.Error(), "press Delete") {
		t.Fatalf("chord = %v, want a press Delete error", err)
	}
	want = []string{"key ctrll down", "key altl down", "key delete down", "key altl up", "key ctrll up"}
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Errorf("failed chord (-want +got):\n%s", diff)
	}
}

func TestCtrlAltDelWrapsErrors(t *testing.T) {
	f := &fakeBackend{fail: "cad"}
	err := newInjector(f).CtrlAltDel()
	if err == nil || !strings.HasPrefix(err.Error(), "input.CtrlAltDel: ") {
		t.Fatalf("CtrlAltDel = %v, want an input.CtrlAltDel error", err)
	}
}

// FuzzApply checks that whatever arrives, the backend only sees values
// inside the limits and never a call for a refused event.
func FuzzApply(f *testing.F) {
	f.Add("move", 10, 10, 0, 0, 0, "", 0, 0)
	f.Add("button", math.MaxInt, 0, 3, 0, 0, "", math.MinInt, 0)
	f.Add("wheel", 0, 0, 0, 21, -21, "", 0, 0)
	f.Add("key", 0, 0, 0, 0, 0, "KeyA", 0, 0)
	f.Fuzz(func(t *testing.T, typ string, x, y, button, dx, dy int, code string, ox, oy int) {
		fb := &fakeBackend{}
		ev := wire.InputEvent{Type: typ, X: x, Y: y, Button: button, Down: true, DX: dx, DY: dy, Code: code}
		err := newInjector(fb).Apply(ev, image.Pt(ox, oy))
		calls := fb.take()
		if err != nil && len(calls) != 0 {
			t.Fatalf("refused event %+v reached the backend: %q", ev, calls)
		}
		for _, c := range calls {
			var a, b int
			switch {
			case strings.HasPrefix(c, "move"):
				if _, err := fmt.Sscanf(c, "move %d,%d", &a, &b); err != nil {
					t.Fatal(err)
				}
				if !within(a, MaxCoord) || !within(b, MaxCoord) || a != x+ox || b != y+oy {
					t.Fatalf("%+v origin (%d,%d): %q", ev, ox, oy, c)
				}
			case strings.HasPrefix(c, "wheel"):
				if _, err := fmt.Sscanf(c, "wheel %d,%d", &a, &b); err != nil {
					t.Fatal(err)
				}
				if !within(a, MaxNotch) || !within(b, MaxNotch) {
					t.Fatalf("%+v: %q", ev, c)
				}
			case strings.HasPrefix(c, "button"):
				if button < 0 || button > 2 {
					t.Fatalf("%+v: %q", ev, c)
				}
			}
		}
	})
}

func TestConcurrentApply(t *testing.T) {
	f := &fakeBackend{}
	in := newInjector(f)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				code := fmt.Sprintf("Digit%d", (g+i)%10)
				for _, down := range []bool{true, false} {
					if err := in.Apply(wire.InputEvent{Type: "key", Code: code, Down: down}, image.Point{}); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := len(f.take()); n != 8*100*2 {
		t.Errorf("backend saw %d calls, want %d", n, 8*100*2)
	}
}
