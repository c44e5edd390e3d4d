//go:build windows

// Package window is Windows-only test support: a real top-level Win32
// window with its own message loop, which paints its client area in two
// known colours (left and right half) and can hold an EDIT control with the
// keyboard focus. Tests of the Windows capture and input code open one and
// check what the code under test saw or did to it, on Windows or under Wine
// (the lane in harness/wine runs such tests cross-compiled). By convention
// only test code imports it.
package window

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32 = windows.NewLazySystemDLL("user32.dll")
	gdi32  = windows.NewLazySystemDLL("gdi32.dll")

	procRegisterClassExW    = user32.NewProc("RegisterClassExW")
	procCreateWindowExW     = user32.NewProc("CreateWindowExW")
	procDefWindowProcW      = user32.NewProc("DefWindowProcW")
	procDestroyWindow       = user32.NewProc("DestroyWindow")
	procGetMessageW         = user32.NewProc("GetMessageW")
	procTranslateMessage    = user32.NewProc("TranslateMessage")
	procDispatchMessageW    = user32.NewProc("DispatchMessageW")
	procPostQuitMessage     = user32.NewProc("PostQuitMessage")
	procPostMessageW        = user32.NewProc("PostMessageW")
	procSendMessageW        = user32.NewProc("SendMessageW")
	procBeginPaint          = user32.NewProc("BeginPaint")
	procEndPaint            = user32.NewProc("EndPaint")
	procFillRect            = user32.NewProc("FillRect")
	procUpdateWindow        = user32.NewProc("UpdateWindow")
	procSetForegroundWindow = user32.NewProc("SetForegroundWindow")
	procSetFocus            = user32.NewProc("SetFocus")
	procGetFocus            = user32.NewProc("GetFocus")
	procCreateSolidBrush    = gdi32.NewProc("CreateSolidBrush")
	procDeleteObject        = gdi32.NewProc("DeleteObject")
)

const (
	wmDestroy       = 0x0002
	wmClose         = 0x0010
	wmPaint         = 0x000F
	wmGetText       = 0x000D
	wmGetTextLength = 0x000E
	wsPopup         = 0x80000000
	wsVisible       = 0x10000000
	wsChild         = 0x40000000
	wsBorder        = 0x00800000
	wsExTopmost     = 0x00000008
	esLeft          = 0x0000
	esAutoHScroll   = 0x0080
	editHeight      = 24
	maxText         = 4096
	classNamePrefix = "peerdesk-test-window-"
)

type wndClassEx struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   windows.Handle
	icon       windows.Handle
	cursor     windows.Handle
	background windows.Handle
	menuName   *uint16
	className  *uint16
	iconSm     windows.Handle
}

type paintStruct struct {
	hdc       windows.Handle
	erase     int32
	paint     windows.Rect
	restore   int32
	incUpdate int32
	reserved  [32]byte
}

type msg struct {
	hwnd    windows.HWND
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      struct{ x, y int32 }
	private uint32
}

// Options describe a window to open.
type Options struct {
	// Rect is the window's place on the virtual screen; it has no frame,
	// so its client area is exactly Rect.
	Rect image.Rectangle
	// Left and Right are the colours of the two halves of the client area.
	Left, Right color.RGBA
	// Edit adds an EDIT control across the top (editHeight pixels, drawn by
	// the system, not in Left) and gives it the keyboard focus.
	Edit bool
}

// Window is an open test window. Its thread runs the message loop until
// Close (registered as t's cleanup).
type Window struct {
	hwnd, edit windows.HWND
	done       chan struct{}
	closed     atomic.Bool
}

var classes atomic.Int64

// Open creates, shows and paints the window, on an OS thread of its own
// that then dispatches its messages; it fails t if any step fails.
func Open(t testing.TB, o Options) *Window {
	t.Helper()
	w := &Window{done: make(chan struct{})}
	ready := make(chan error, 1)
	go w.loop(o, ready)
	if err := <-ready; err != nil {
		t.Fatalf("window.Open: %v", err)
	}
	t.Cleanup(w.Close)
	return w
}

func colorref(c color.RGBA) uintptr {
	return uintptr(c.B)<<16 | uintptr(c.G)<<8 | uintptr(c.R)
}

func (w *Window) loop(o Options, ready chan<- error) {
	defer close(w.done)
	runtime.LockOSThread() // the window belongs to this thread for life; the thread ends with it
	left, _, err := procCreateSolidBrush.Call(colorref(o.Left))
	if left == 0 {
		ready <- fmt.Errorf("CreateSolidBrush: %w", err)
		return
	}
	defer procDeleteObject.Call(left)
	right, _, err := procCreateSolidBrush.Call(colorref(o.Right))
	if right == 0 {
		ready <- fmt.Errorf("CreateSolidBrush: %w", err)
		return
	}
	defer procDeleteObject.Call(right)
	width, height := o.Rect.Dx(), o.Rect.Dy()

	proc := windows.NewCallback(func(hwnd windows.HWND, m uint32, wp, lp uintptr) uintptr {
		switch m {
		case wmPaint:
			var ps paintStruct
			hdc, _, _ := procBeginPaint.Call(uintptr(hwnd), uintptr(unsafe.Pointer(&ps)))
			if hdc != 0 {
				l := windows.Rect{Right: int32(width / 2), Bottom: int32(height)}
				r := windows.Rect{Left: int32(width / 2), Right: int32(width), Bottom: int32(height)}
				procFillRect.Call(hdc, uintptr(unsafe.Pointer(&l)), left)
				procFillRect.Call(hdc, uintptr(unsafe.Pointer(&r)), right)
			}
			procEndPaint.Call(uintptr(hwnd), uintptr(unsafe.Pointer(&ps)))
			return 0
		case wmClose:
			procDestroyWindow.Call(uintptr(hwnd))
			return 0
		case wmDestroy:
			procPostQuitMessage.Call(0)
			return 0
		}
		r, _, _ := procDefWindowProcW.Call(uintptr(hwnd), uintptr(m), wp, lp)
		return r
	})
	var inst windows.Handle
	if err := windows.GetModuleHandleEx(0, nil, &inst); err != nil {
		ready <- fmt.Errorf("GetModuleHandleEx: %w", err)
		return
	}
	name, _ := windows.UTF16PtrFromString(fmt.Sprintf("%s%d", classNamePrefix, classes.Add(1)))
	wc := wndClassEx{wndProc: proc, instance: inst, className: name}
	wc.size = uint32(unsafe.Sizeof(wc))
	if a, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); a == 0 {
		ready <- fmt.Errorf("RegisterClassExW: %w", err)
		return
	}
	h, _, err := procCreateWindowExW.Call(wsExTopmost, uintptr(unsafe.Pointer(name)), 0, wsPopup|wsVisible,
		uintptr(o.Rect.Min.X), uintptr(o.Rect.Min.Y), uintptr(width), uintptr(height), 0, 0, uintptr(inst), 0)
	if h == 0 {
		ready <- fmt.Errorf("CreateWindowExW: %w", err)
		return
	}
	w.hwnd = windows.HWND(h)
	if o.Edit {
		cls, _ := windows.UTF16PtrFromString("EDIT")
		e, _, err := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(cls)), 0, wsChild|wsVisible|wsBorder|esLeft|esAutoHScroll,
			0, 0, uintptr(width), editHeight, h, 0, uintptr(inst), 0)
		if e == 0 {
			procDestroyWindow.Call(h)
			ready <- fmt.Errorf("CreateWindowExW(EDIT): %w", err)
			return
		}
		w.edit = windows.HWND(e)
	}
	procSetForegroundWindow.Call(h)
	if w.edit != 0 {
		procSetFocus.Call(uintptr(w.edit))
		if f, _, _ := procGetFocus.Call(); f != uintptr(w.edit) {
			procDestroyWindow.Call(h)
			ready <- errors.New("the EDIT control did not get the keyboard focus")
			return
		}
	}
	procUpdateWindow.Call(h) // paints now (WM_PAINT sent, not queued)
	ready <- nil
	var m msg
	for {
		r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
		if int32(r) <= 0 { // 0: WM_QUIT; -1: error
			return
		}
		procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
	}
}

// Text returns the EDIT control's text (SendMessage, answered by the
// window's thread).
func (w *Window) Text() (string, error) {
	if w.edit == 0 {
		return "", errors.New("window: no EDIT control")
	}
	n, _, _ := procSendMessageW.Call(uintptr(w.edit), wmGetTextLength, 0, 0)
	if n > maxText {
		n = maxText
	}
	buf := make([]uint16, n+1)
	got, _, _ := procSendMessageW.Call(uintptr(w.edit), wmGetText, uintptr(len(buf)), uintptr(unsafe.Pointer(&buf[0])))
	return windows.UTF16ToString(buf[:got]), nil
}

// Close destroys the window and waits for its thread's loop to end.
func (w *Window) Close() {
	if w.closed.Swap(true) {
		return
	}
	procPostMessageW.Call(uintptr(w.hwnd), wmClose, 0, 0)
	<-w.done
}
