//go:build windows

package input

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"

	"github.com/peerdesk/peerdesk/agent/internal/inputdesk"
)

// robotgo's Windows code needs cgo (or its "win"/"purego" build tags), and
// the agent is cross-compiled with CGO_ENABLED=0, so Windows input goes
// straight to user32.

var (
	user32        = windows.NewLazySystemDLL("user32.dll")
	procSendInput = user32.NewProc("SendInput")
	procSetCursor = user32.NewProc("SetCursorPos")
	procMapVKey   = user32.NewProc("MapVirtualKeyW")
	sas           = windows.NewLazySystemDLL("sas.dll")
	procSendSAS   = sas.NewProc("SendSAS")
)

// SendInput constants (winuser.h).
const (
	inputMouse    = 0
	inputKeyboard = 1

	mouseeventfLeftDown   = 0x0002
	mouseeventfLeftUp     = 0x0004
	mouseeventfRightDown  = 0x0008
	mouseeventfRightUp    = 0x0010
	mouseeventfMiddleDown = 0x0020
	mouseeventfMiddleUp   = 0x0040
	mouseeventfWheel      = 0x0800
	mouseeventfHWheel     = 0x1000

	keyeventfExtendedKey = 0x0001
	keyeventfKeyUp       = 0x0002
	keyeventfScancode    = 0x0008

	wheelDelta = 120

	mapvkVscToVkEx = 3 // MAPVK_VSC_TO_VK_EX
)

// mouseInput is MOUSEINPUT.
type mouseInput struct {
	dx, dy    int32
	mouseData uint32
	flags     uint32
	time      uint32
	extraInfo uintptr
}

// keybdInput is KEYBDINPUT.
type keybdInput struct {
	vk, scan  uint16
	flags     uint32
	time      uint32
	extraInfo uintptr
}

// mouseINPUT and keybdINPUT are INPUT holding each union member. MOUSEINPUT
// is the union's largest member, so the keyboard form is padded to its size
// (40 bytes on 64-bit Windows, 28 on 32-bit).
type mouseINPUT struct {
	typ uint32
	mi  mouseInput
}

type keybdINPUT struct {
	typ uint32
	ki  keybdInput
	_   [unsafe.Sizeof(mouseInput{}) - unsafe.Sizeof(keybdInput{})]byte
}

// Compile-time checks against winuser.h: sizeof(INPUT) is 40 on 64-bit
// Windows and 28 on 32-bit, with the union at offset 8 or 4.
const (
	ptrSize     = unsafe.Sizeof(uintptr(0))
	inputSize   = 28 + 12*(ptrSize/8)
	unionOffset = ptrSize
)

var (
	_ [0]struct{} = [unsafe.Sizeof(mouseINPUT{}) - inputSize]struct{}{}
	_ [0]struct{} = [unsafe.Sizeof(keybdINPUT{}) - inputSize]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(mouseINPUT{}.mi) - unionOffset]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(keybdINPUT{}.ki) - unionOffset]struct{}{}
)

// New returns an injector for the desktop of the session this process runs
// in; display is ignored. The process must run in the interactive user's
// session (a service in session 0 reaches no user desktop), should be
// per-monitor DPI aware so coordinates are physical pixels, and cannot drive
// windows of a higher integrity level (UIPI) or the secure desktop.
func New(display string) (Injector, error) {
	for _, p := range []*windows.LazyProc{procSendInput, procSetCursor} {
		if err := p.Find(); err != nil {
			return nil, fmt.Errorf("input.New: %w", err)
		}
	}
	return newInjector(winBackend{}), nil
}

type winBackend struct{}

func (winBackend) move(x, y int) error {
	return inputdesk.Run(func() error {
		if r, _, err := procSetCursor.Call(uintptr(x), uintptr(y)); r == 0 {
			return fmt.Errorf("SetCursorPos(%d, %d): %w", x, y, err)
		}
		return nil
	})
}

// SendInput flags for DOM buttons 0, 1 and 2: [button][0 up, 1 down].
var winButtons = [...][2]uint32{
	{mouseeventfLeftUp, mouseeventfLeftDown},
	{mouseeventfMiddleUp, mouseeventfMiddleDown},
	{mouseeventfRightUp, mouseeventfRightDown},
}

func (winBackend) button(b int, down bool) error {
	i := 0
	if down {
		i = 1
	}
	return sendMouse([]mouseINPUT{{typ: inputMouse, mi: mouseInput{flags: winButtons[b][i]}}})
}

func (winBackend) wheel(dx, dy int) error {
	// Windows: positive wheel data scrolls up (away from the user) and
	// right; DOM deltaY is positive downwards, deltaX positive rightwards.
	var in []mouseINPUT
	if dy != 0 {
		in = append(in, mouseINPUT{typ: inputMouse, mi: mouseInput{flags: mouseeventfWheel, mouseData: uint32(int32(-dy * wheelDelta))}})
	}
	if dx != 0 {
		in = append(in, mouseINPUT{typ: inputMouse, mi: mouseInput{flags: mouseeventfHWheel, mouseData: uint32(int32(dx * wheelDelta))}})
	}
	return sendMouse(in)
}

func (winBackend) key(k key, down bool) error {
	flags := uint32(keyeventfScancode)
	if k.extended {
		flags |= keyeventfExtendedKey
	}
	if !down {
		flags |= keyeventfKeyUp
	}
	in := []keybdINPUT{{typ: inputKeyboard, ki: keybdInput{vk: vkOf(k), scan: k.scan, flags: flags}}}
	return sendInput(len(in), unsafe.Pointer(&in[0]), unsafe.Sizeof(in[0]))
}

// vkOf returns the virtual key the current layout gives k's scancode, or 0.
// Windows ignores wVk when KEYEVENTF_SCANCODE is set, so this changes
// nothing there; Wine (8.0, probed: agent/input TestSendInputTypesIntoWindow
// under e2e TestWindowsSendInput) does the opposite, types wVk and drops a
// scancode-only event, so filling both makes one event work on both.
func vkOf(k key) uint16 {
	if procMapVKey.Find() != nil {
		return 0
	}
	scan := uintptr(k.scan)
	if k.extended {
		scan |= 0xE000
	}
	vk, _, _ := procMapVKey.Call(scan, mapvkVscToVkEx)
	return uint16(vk)
}

func sendMouse(in []mouseINPUT) error {
	if len(in) == 0 {
		return nil
	}
	return sendInput(len(in), unsafe.Pointer(&in[0]), unsafe.Sizeof(in[0]))
}

// sendInput injects on the desktop that has the input (the logon screen
// and UAC's secure desktop too, when the screen helper runs as SYSTEM).
func sendInput(n int, p unsafe.Pointer, size uintptr) error {
	return inputdesk.Run(func() error {
		r, _, err := procSendInput.Call(uintptr(n), uintptr(p), size)
		if int(r) != n {
			// 0 with no error code means another thread blocked input.
			return fmt.Errorf("SendInput: %d of %d events injected: %w", r, n, err)
		}
		return nil
	})
}

// ctrlAltDel asks Winlogon for the secure-attention sequence with SendSAS:
// Windows ignores Ctrl+Alt+Del typed through SendInput. SendSAS reports
// nothing, so its two preconditions are checked first: the caller is a
// service, and the SoftwareSASGeneration policy lets services generate it.
// A session process gets ErrUnsupported and must ask the agent's service.
func (winBackend) ctrlAltDel() error {
	isService, err := svc.IsWindowsService()
	if err != nil {
		return fmt.Errorf("svc.IsWindowsService: %w", err)
	}
	if !isService {
		return fmt.Errorf("%w: SendSAS works only from a service", ErrUnsupported)
	}
	policy, err := sasPolicy()
	if err != nil {
		return err
	}
	if policy != 1 && policy != 3 { // 1: services, 3: services and Ease of Access
		return fmt.Errorf("%w: SoftwareSASGeneration policy is %d, services may not generate the SAS", ErrUnsupported, policy)
	}
	if err := procSendSAS.Find(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	procSendSAS.Call(0) // AsUser = FALSE: called from a service. SendSAS returns nothing.
	return nil
}

// sasPolicy reads the SoftwareSASGeneration policy; absent means 0 (none).
func sasPolicy() (uint64, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System`, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open policy key: %w", err)
	}
	defer k.Close()
	v, _, err := k.GetIntegerValue("SoftwareSASGeneration")
	if errors.Is(err, registry.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read SoftwareSASGeneration: %w", err)
	}
	return v, nil
}
