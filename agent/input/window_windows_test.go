package input

import (
	"image"
	"image/color"
	"testing"
	"unsafe"

	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/wine/window"
	"github.com/peerdesk/peerdesk/wire"
)

var procGetCursorPos = user32.NewProc("GetCursorPos")

// TestSendInputTypesIntoWindow: keys the injector sends with SendInput
// (hardware scancodes) reach the focused EDIT control of a real window and
// read back as text, Shift included; a move puts the cursor where asked.
// Under Wine (e2e TestWindowsSendInput) it runs on Xvfb.
func TestSendInputTypesIntoWindow(t *testing.T) {
	inj, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := inj.ReleaseAll(); err != nil {
			t.Error(err)
		}
	}()
	w := window.Open(t, window.Options{Rect: image.Rect(100, 100, 500, 300), Left: color.RGBA{40, 40, 40, 255}, Right: color.RGBA{90, 90, 90, 255}, Edit: true})

	origin := image.Pt(0, 0)
	if err := inj.Apply(wire.InputEvent{Type: "move", X: 321, Y: 234}, origin); err != nil {
		t.Fatal(err)
	}
	var pt struct{ X, Y int32 }
	if ok, _, err := procGetCursorPos.Call(uintptr(unsafe.Pointer(&pt))); ok == 0 {
		t.Fatalf("GetCursorPos: %v", err)
	}
	if pt.X != 321 || pt.Y != 234 {
		t.Errorf("cursor at (%d, %d) after a move to (321, 234)", pt.X, pt.Y)
	}

	press := func(code string, down bool) {
		t.Helper()
		if err := inj.Apply(wire.InputEvent{Type: "key", Code: code, Down: down}, origin); err != nil {
			t.Fatalf("key %s down=%v: %v", code, down, err)
		}
	}
	tap := func(code string) { press(code, true); press(code, false) }
	press("ShiftLeft", true)
	tap("KeyP")
	press("ShiftLeft", false)
	for _, c := range []string{"KeyE", "KeyE", "KeyR", "Space", "Digit4", "Minus", "KeyW"} {
		tap(c)
	}
	const want = "Peer 4-w"
	var got string
	defer func() {
		if t.Failed() {
			t.Logf("the EDIT control holds %q, want %q", got, want)
		}
	}()
	wait.For(t, "the typed text in the EDIT control", func() bool {
		got, err = w.Text()
		if err != nil {
			t.Fatal(err)
		}
		return got == want
	})
}
