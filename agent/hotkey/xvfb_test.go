//go:build linux

package hotkey

import (
	"errors"
	"io"
	"log"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/harness/xclient"
)

func TestMain(m *testing.M) {
	xgb.Logger = log.New(io.Discard, "", 0) // it logs a missing ~/.Xauthority on its own
	os.Exit(leak.Main(m))
}

// injector sends fake key events (XTEST) to display.
type injector struct {
	t    *testing.T
	conn *xgb.Conn
	root xproto.Window
}

func newInjector(t *testing.T, display string) *injector {
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := xtest.Init(conn); err != nil {
		t.Fatal(err)
	}
	return &injector{t: t, conn: conn, root: xproto.Setup(conn).DefaultScreen(conn).Root}
}

// press presses and releases the key producing keysym, holding the
// modifier keys (keysyms) around it.
func (in *injector) press(keysym uint32, mods ...uint32) {
	in.t.Helper()
	code := func(ks uint32) byte {
		cs, err := keycodes(in.conn, ks)
		if err != nil || len(cs) == 0 {
			in.t.Fatalf("no keycode for keysym %#x: %v", ks, err)
		}
		return byte(cs[0])
	}
	fake := func(typ, detail byte) {
		if err := xtest.FakeInputChecked(in.conn, typ, detail, 0, in.root, 0, 0, 0).Check(); err != nil {
			in.t.Fatal(err)
		}
	}
	for _, m := range mods {
		fake(xproto.KeyPress, code(m))
	}
	fake(xproto.KeyPress, code(keysym))
	fake(xproto.KeyRelease, code(keysym))
	for _, m := range mods {
		fake(xproto.KeyRelease, code(m))
	}
}

const (
	ksF7       = 0xffc4
	ksF8       = 0xffc5
	ksControlL = 0xffe3
)

// TestGrabOnXvfb: a fake F8 press reaches OnPress; F7, and F8 with Ctrl
// held, do not (they are sent first, so the count after the plain F8
// proves it); a second client cannot grab the same key; after Close the
// key is free again.
func TestGrabOnXvfb(t *testing.T) {
	leak.Check(t)
	display := xclient.StartXvfb(t, 640, 480)
	// A window with the focus, as a user's application would have.
	w := xclient.OpenWindow(t, display, 0, 0, 200, 200)
	var presses atomic.Int32
	pressed := make(chan struct{}, 10)
	h, err := Start(Config{Display: display, OnPress: func() {
		presses.Add(1)
		pressed <- struct{}{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	in := newInjector(t, display)
	in.press(ksF7)
	in.press(ksF8, ksControlL)
	in.press(ksF8)
	wait.Recv(t, "the F8 press", pressed)
	in.press(ksF8)
	wait.Recv(t, "the second F8 press", pressed)
	if n := presses.Load(); n != 2 {
		t.Errorf("OnPress called %d times, want 2 (F7 and Ctrl+F8 must not count)", n)
	}
	// The grab is exclusive: the focused window sees F7, Ctrl+F8 (not
	// grabbed) and, after the two plain F8s, F7 again — and no F8 between.
	in.press(ksF7)
	var seen []string
	for f7 := 0; f7 < 2; {
		e := wait.Recv(t, "the window's key events", w.Events())
		if e.Kind != "key" || !e.Down {
			continue
		}
		seen = append(seen, e.Keysym)
		if e.Keysym == "F7" {
			f7++
		}
	}
	if want := []string{"F7", "Control_L", "F8", "F7"}; !slices.Equal(seen, want) {
		t.Errorf("the focused window saw key presses %v, want %v (the plain F8s go to the grab only)", seen, want)
	}

	_, err = Start(Config{Display: display, OnPress: func() {}})
	if !errors.Is(err, ErrTaken) {
		t.Errorf("a second grab of F8 = %v, want ErrTaken", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h.Close() // idempotent
	h2, err := Start(Config{Display: display, Key: mustKey(t, "ctrl+F8"), OnPress: func() { pressed <- struct{}{} }})
	if err != nil {
		t.Fatalf("grabbing after Close: %v", err)
	}
	defer h2.Close()
	in.press(ksF8, ksControlL)
	wait.Recv(t, "the Ctrl+F8 press", pressed)
}

func mustKey(t *testing.T, s string) Key {
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
