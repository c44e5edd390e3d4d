package hotkey

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	procRegisterHotKey   = user32.NewProc("RegisterHotKey")
	procUnregisterHotKey = user32.NewProc("UnregisterHotKey")
	procGetMessageW      = user32.NewProc("GetMessageW")
	procPostThreadMsgW   = user32.NewProc("PostThreadMessageW")
)

const (
	wmQuit   = 0x0012
	wmHotkey = 0x0312

	modAlt      = 0x0001
	modControl  = 0x0002
	modShift    = 0x0004
	modWin      = 0x0008
	modNoRepeat = 0x4000

	errorHotkeyAlreadyRegistered = windows.Errno(1409)
)

// msg is Win32's MSG.
type msg struct {
	hwnd    uintptr
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      struct{ x, y int32 }
	private uint32
}

func winMods(m Mods) uintptr {
	w := uintptr(modNoRepeat) // holding the key does not repeat it
	if m&Shift != 0 {
		w |= modShift
	}
	if m&Ctrl != 0 {
		w |= modControl
	}
	if m&Alt != 0 {
		w |= modAlt
	}
	if m&Super != 0 {
		w |= modWin
	}
	return w
}

// start registers the key on a locked thread of its own, whose message
// loop receives WM_HOTKEY; stopping posts WM_QUIT to that thread. It must
// run in the interactive user's session (not a service's session 0).
func start(cfg Config, done chan struct{}) (func(), error) {
	type started struct {
		tid uint32
		err error
	}
	ready := make(chan started, 1)
	go func() {
		defer close(done)
		runtime.LockOSThread() // the hotkey belongs to this thread; it exits with it
		tid := windows.GetCurrentThreadId()
		const id = 1
		r, _, err := procRegisterHotKey.Call(0, id, winMods(cfg.Key.Mods), uintptr(cfg.Key.vk))
		if r == 0 {
			if errors.Is(err, errorHotkeyAlreadyRegistered) {
				err = ErrTaken
			}
			ready <- started{err: fmt.Errorf("RegisterHotKey: %w", err)}
			return
		}
		defer procUnregisterHotKey.Call(0, id) //nolint:errcheck // the thread ends next
		ready <- started{tid: tid}
		var m msg
		for {
			r, _, err := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
			switch int32(r) {
			case 0: // WM_QUIT
				return
			case -1:
				cfg.Logger.Error("the hotkey's message loop failed", "err", err)
				return
			}
			if m.message == wmHotkey && m.wParam == id {
				cfg.OnPress()
			}
		}
	}()
	s := <-ready
	if s.err != nil {
		return nil, s.err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			procPostThreadMsgW.Call(uintptr(s.tid), wmQuit, 0, 0) //nolint:errcheck // the loop is there until it reads this
		})
	}, nil
}
