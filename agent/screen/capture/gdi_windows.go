package capture

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/peerdesk/peerdesk/agent/internal/inputdesk"
)

// Small wrappers over the user32 and gdi32 calls the GDI capture needs.

var (
	user32 = windows.NewLazySystemDLL("user32.dll")
	gdi32  = windows.NewLazySystemDLL("gdi32.dll")

	procGetDC                        = user32.NewProc("GetDC")
	procReleaseDC                    = user32.NewProc("ReleaseDC")
	procEnumDisplayMonitors          = user32.NewProc("EnumDisplayMonitors")
	procGetMonitorInfoW              = user32.NewProc("GetMonitorInfoW")
	procSetThreadDpiAwarenessContext = user32.NewProc("SetThreadDpiAwarenessContext")

	procCreateCompatibleDC = gdi32.NewProc("CreateCompatibleDC")
	procDeleteDC           = gdi32.NewProc("DeleteDC")
	procCreateDIBSection   = gdi32.NewProc("CreateDIBSection")
	procSelectObject       = gdi32.NewProc("SelectObject")
	procDeleteObject       = gdi32.NewProc("DeleteObject")
	procBitBlt             = gdi32.NewProc("BitBlt")
	procGdiFlush           = gdi32.NewProc("GdiFlush")
)

const (
	srccopy              = 0x00CC0020
	dibRGBColors         = 0
	biRGB                = 0
	monitorInfoFPrimary  = 1
	dpiPerMonitorAwareV2 = ^uintptr(3) // DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2, (HANDLE)-4
)

type bitmapInfoHeader struct {
	Size          uint32
	Width         int32
	Height        int32
	Planes        uint16
	BitCount      uint16
	Compression   uint32
	SizeImage     uint32
	XPelsPerMeter int32
	YPelsPerMeter int32
	ClrUsed       uint32
	ClrImportant  uint32
}

type bitmapInfo struct {
	Header bitmapInfoHeader
	Colors [1]uint32
}

type monitorInfoEx struct {
	Size    uint32
	Monitor windows.Rect
	Work    windows.Rect
	Flags   uint32
	Device  [32]uint16
}

// physicalPixels runs f on a locked OS thread switched to per-monitor DPI
// awareness (v2), so that monitor rectangles and the screen DC are in
// physical pixels whatever the process's own awareness, and restores the
// thread afterwards. GetDC and ReleaseDC must also run on one thread, which
// the lock guarantees. Before Windows 10 1607 the call does not exist and
// the process's awareness applies (the agent's manifest declares it).
func physicalPixels(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if procSetThreadDpiAwarenessContext.Find() == nil {
		// It returns the previous context, or 0 when it could not switch,
		// in which case there is nothing to restore.
		if old, _, _ := procSetThreadDpiAwarenessContext.Call(dpiPerMonitorAwareV2); old != 0 {
			defer procSetThreadDpiAwarenessContext.Call(old) // restoring a context it just returned; nothing to report
		}
	}
	// On the desktop that has the input: the logon screen and UAC's
	// secure desktop too, when the screen helper runs as SYSTEM.
	return inputdesk.Run(f)
}

// EnumDisplayMonitors reports monitors through a callback; callbacks are a
// scarce process-wide resource (windows.NewCallback), so one is made once
// and it appends to enumHandles under enumMu.
var (
	enumMu       sync.Mutex
	enumHandles  []uintptr
	enumCallback = sync.OnceValue(func() uintptr {
		return windows.NewCallback(func(hmon, hdc, rect, data uintptr) uintptr {
			enumHandles = append(enumHandles, hmon)
			return 1 // continue
		})
	})
)

// listMonitors returns the monitors in virtual-screen coordinates, sorted
// and numbered (sortMonitors). Call it inside physicalPixels.
func listMonitors() ([]Monitor, error) {
	enumMu.Lock()
	enumHandles = enumHandles[:0]
	r, _, err := procEnumDisplayMonitors.Call(0, 0, enumCallback(), 0)
	handles := slices.Clone(enumHandles)
	enumMu.Unlock()
	if r == 0 {
		return nil, fmt.Errorf("EnumDisplayMonitors: %w", err)
	}
	ms := make([]Monitor, 0, len(handles))
	for _, h := range handles {
		mi := monitorInfoEx{Size: uint32(unsafe.Sizeof(monitorInfoEx{}))}
		if r, _, err := procGetMonitorInfoW.Call(h, uintptr(unsafe.Pointer(&mi))); r == 0 {
			return nil, fmt.Errorf("GetMonitorInfo: %w", err)
		}
		ms = append(ms, Monitor{
			Name:    windows.UTF16ToString(mi.Device[:]),
			X:       int(mi.Monitor.Left),
			Y:       int(mi.Monitor.Top),
			Width:   int(mi.Monitor.Right - mi.Monitor.Left),
			Height:  int(mi.Monitor.Bottom - mi.Monitor.Top),
			Primary: mi.Flags&monitorInfoFPrimary != 0,
		})
	}
	sortMonitors(ms)
	return ms, nil
}

// dib is a top-down 32-bit device-independent bitmap, selected into a
// memory DC of its own, whose pixels (BGRA) this process reads directly.
type dib struct {
	dc  uintptr
	bmp uintptr
	old uintptr // the DC's original bitmap, selected back before deleting
	pix []byte
}

func newDIB(w, h int) (_ dib, err error) {
	dc, _, err := procCreateCompatibleDC.Call(0)
	if dc == 0 {
		return dib{}, fmt.Errorf("CreateCompatibleDC: %w", err)
	}
	d := dib{dc: dc}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.free())
		}
	}()
	bi := bitmapInfo{Header: bitmapInfoHeader{
		Width:       int32(w),
		Height:      -int32(h), // negative: top-down rows
		Planes:      1,
		BitCount:    32,
		Compression: biRGB,
	}}
	bi.Header.Size = uint32(unsafe.Sizeof(bi.Header))
	var bits unsafe.Pointer
	bmp, _, err := procCreateDIBSection.Call(dc, uintptr(unsafe.Pointer(&bi)), dibRGBColors,
		uintptr(unsafe.Pointer(&bits)), 0, 0)
	if bmp == 0 || bits == nil {
		return d, fmt.Errorf("CreateDIBSection %dx%d: %w", w, h, err)
	}
	d.bmp = bmp
	old, _, err := procSelectObject.Call(dc, bmp)
	if old == 0 {
		return d, fmt.Errorf("SelectObject: %w", err)
	}
	d.old = old
	d.pix = unsafe.Slice((*byte)(bits), w*h*4)
	return d, nil
}

// free releases the bitmap and its DC; it is a no-op on a zero dib.
func (d *dib) free() error {
	var errs []error
	if d.old != 0 {
		if r, _, err := procSelectObject.Call(d.dc, d.old); r == 0 {
			errs = append(errs, fmt.Errorf("SelectObject: %w", err))
		}
	}
	if d.bmp != 0 {
		if r, _, err := procDeleteObject.Call(d.bmp); r == 0 {
			errs = append(errs, fmt.Errorf("DeleteObject: %w", err))
		}
	}
	if d.dc != 0 {
		if r, _, err := procDeleteDC.Call(d.dc); r == 0 {
			errs = append(errs, fmt.Errorf("DeleteDC: %w", err))
		}
	}
	*d = dib{}
	return errors.Join(errs...)
}

// blit copies area of the screen (virtual-screen coordinates) into d.
// Call it inside physicalPixels.
func blit(d dib, area image.Rectangle) error {
	screen, _, err := procGetDC.Call(0)
	if screen == 0 {
		return fmt.Errorf("GetDC: %w", err)
	}
	// No CAPTUREBLT: with it the mouse cursor flickers on every grab; the
	// DWM-composed screen DC already includes layered windows.
	ok, _, bltErr := procBitBlt.Call(d.dc, 0, 0, uintptr(area.Dx()), uintptr(area.Dy()),
		screen, uintptr(area.Min.X), uintptr(area.Min.Y), srccopy)
	if r, _, err := procReleaseDC.Call(0, screen); r == 0 && ok != 0 {
		return fmt.Errorf("ReleaseDC: %w", err)
	}
	if ok == 0 {
		// Fails while another desktop (UAC prompt, lock screen) has the input.
		return fmt.Errorf("BitBlt: %w", bltErr)
	}
	// Pending GDI work must land before the bits are read.
	procGdiFlush.Call() // its result only says whether the batch was empty
	return nil
}
