//go:build linux && cgo

package input

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/peerdesk/peerdesk/harness/wait"
)

// The screen of the test server.
const screenW, screenH = 1280, 800

// xvfb is the one X server of this test binary: robotgo keeps one X
// connection per process, so every test injects into the same display.
var xvfb struct {
	once    sync.Once
	display string
	cmd     *exec.Cmd
	err     error
}

// testDisplay starts Xvfb on a free display the first time it is called and
// returns the display name. Tests skip when Xvfb is not installed.
func testDisplay(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skip("Xvfb not installed")
	}
	xvfb.once.Do(func() { xvfb.display, xvfb.cmd, xvfb.err = startXvfb() })
	if xvfb.err != nil {
		t.Fatal(xvfb.err)
	}
	return xvfb.display
}

// startXvfb lets Xvfb pick a free display (-displayfd) and waits until it
// says it is ready.
func startXvfb() (string, *exec.Cmd, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", screenW, screenH), "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w} // fd 3
	// If the test process dies (Xlib may exit it), take the server along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		w.Close()
		return "", nil, fmt.Errorf("start Xvfb: %w", err)
	}
	w.Close()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n') // an error shows as an empty line
		line <- s
	}()
	select {
	case s := <-line:
		if n := strings.TrimSpace(s); n != "" {
			return ":" + n, cmd, nil
		}
	case <-time.After(wait.Timeout): // a busy machine starts it slowly
	}
	stopXvfb(cmd)
	return "", nil, fmt.Errorf("Xvfb did not report a display")
}

// stopXvfb asks Xvfb to exit (so it removes its lock and socket), and kills
// it if it has not within a second.
func stopXvfb(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // stopped on purpose: the exit status says nothing
		close(done)
	}()
	_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited already; Wait reaps it either way
	select {
	case <-done:
	case <-time.After(time.Second):
		_ = cmd.Process.Kill() // as above
		<-done
	}
}

// window is a client of the test display with one window covering the
// screen, selecting key, button and motion events, and holding the focus.
type window struct {
	conn    *xgb.Conn
	id      xproto.Window
	events  chan xgb.Event
	keysyms map[xproto.Keycode][]xproto.Keysym
}

func openWindow(t testing.TB, display string) *window {
	t.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatalf("connect to %s: %v", display, err)
	}
	w := &window{conn: conn, events: make(chan xgb.Event, 1024)}
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			ev, xerr := conn.WaitForEvent()
			if ev == nil && xerr == nil {
				return // closed
			}
			if ev == nil {
				continue // an X error; the checked requests report their own
			}
			select {
			case w.events <- ev:
			case <-stop:
				return
			}
		}
	}()
	screen := xproto.Setup(conn).DefaultScreen(conn)
	if w.id, err = xproto.NewWindowId(conn); err != nil {
		t.Fatal(err)
	}
	mask := uint32(xproto.EventMaskKeyPress | xproto.EventMaskKeyRelease | xproto.EventMaskButtonPress |
		xproto.EventMaskButtonRelease | xproto.EventMaskPointerMotion | xproto.EventMaskPropertyChange)
	if err := xproto.CreateWindowChecked(conn, screen.RootDepth, w.id, screen.Root, 0, 0, screenW, screenH, 0,
		xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{screen.WhitePixel, 1, mask}).Check(); err != nil {
		t.Fatalf("create window: %v", err)
	}
	if err := xproto.MapWindowChecked(conn, w.id).Check(); err != nil {
		t.Fatalf("map window: %v", err)
	}
	if err := xproto.SetInputFocusChecked(conn, xproto.InputFocusPointerRoot, w.id, xproto.TimeCurrentTime).Check(); err != nil {
		t.Fatalf("focus window: %v", err)
	}
	setup := xproto.Setup(conn)
	count := byte(setup.MaxKeycode - setup.MinKeycode + 1)
	km, err := xproto.GetKeyboardMapping(conn, setup.MinKeycode, count).Reply()
	if err != nil {
		t.Fatalf("keyboard mapping: %v", err)
	}
	w.keysyms = make(map[xproto.Keycode][]xproto.Keysym)
	per := int(km.KeysymsPerKeycode)
	for i := 0; i < int(count); i++ {
		w.keysyms[setup.MinKeycode+xproto.Keycode(i)] = km.Keysyms[i*per : (i+1)*per]
	}
	return w
}

// next returns the next key or button event, skipping motion unless
// withMotion, and fails the test after wait.Timeout of silence.
func (w *window) next(t testing.TB, withMotion bool) xgb.Event {
	t.Helper()
	timeout := time.After(wait.Timeout)
	for {
		select {
		case ev := <-w.events:
			switch ev.(type) {
			case xproto.MappingNotifyEvent:
				continue // the server switching to the XTest device's keymap
			case xproto.MotionNotifyEvent:
				if !withMotion {
					continue
				}
			}
			return ev
		case <-timeout:
			t.Fatalf("no event from the X server within %v", wait.Timeout)
			return nil
		}
	}
}

// quiet fails the test if a key or button event arrives before a marker:
// a PropertyNotify the window asks the server for after everything
// injected so far. The server delivers XTest's events while it handles
// the injecting request, which the injector waits for (XSync), so they are
// queued to this client ahead of the marker: no span of time is guessed.
func (w *window) quiet(t testing.TB) {
	t.Helper()
	if err := xproto.ChangePropertyChecked(w.conn, xproto.PropModeReplace, w.id, xproto.AtomWmName, xproto.AtomString,
		8, uint32(len("marker")), []byte("marker")).Check(); err != nil {
		t.Fatalf("marker: %v", err)
	}
	timeout := time.After(wait.Timeout)
	for {
		select {
		case ev := <-w.events:
			switch ev.(type) {
			case xproto.PropertyNotifyEvent:
				return
			case xproto.MotionNotifyEvent, xproto.MappingNotifyEvent:
			default:
				t.Fatalf("unexpected event %s", ev)
			}
		case <-timeout:
			t.Fatalf("the marker did not arrive within %v", wait.Timeout)
		}
	}
}

// keycode returns a keycode whose map carries sym, or fails the test.
func (w *window) keycode(t testing.TB, sym xproto.Keysym) xproto.Keycode {
	t.Helper()
	for kc, syms := range w.keysyms {
		if len(syms) > 0 && syms[0] == sym {
			return kc
		}
	}
	t.Fatalf("no keycode for keysym %#x", sym)
	return 0
}

// carries reports whether keycode kc carries keysym sym at any level.
func (w *window) carries(kc xproto.Keycode, sym xproto.Keysym) bool {
	for _, s := range w.keysyms[kc] {
		if s == sym {
			return true
		}
	}
	return false
}
