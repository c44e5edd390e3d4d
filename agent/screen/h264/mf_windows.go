//go:build windows && (amd64 || 386)

package h264

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Media Foundation, through its flat API and COM vtables without cgo. Only
// the probe exists so far: which H.264 encoder transforms the system
// registers.

var (
	mfplat                  = windows.NewLazySystemDLL("mfplat.dll")
	procMFStartup           = mfplat.NewProc("MFStartup")
	procMFShutdown          = mfplat.NewProc("MFShutdown")
	procMFTEnumEx           = mfplat.NewProc("MFTEnumEx")
	mftFriendlyName         = windows.GUID{Data1: 0x314ffbae, Data2: 0x5b41, Data3: 0x4c95, Data4: [8]byte{0x9c, 0x19, 0x4e, 0x7d, 0x58, 0x6f, 0xac, 0xe3}}
	mftCategoryVideoEncoder = windows.GUID{Data1: 0xf79eac7d, Data2: 0xe545, Data3: 0x4387, Data4: [8]byte{0xbd, 0xee, 0xd6, 0x47, 0xd7, 0xbd, 0xe4, 0x2a}}
	mftCategoryVideoDecoder = windows.GUID{Data1: 0xd6c02d4b, Data2: 0x6833, Data3: 0x45b4, Data4: [8]byte{0x97, 0x1a, 0x05, 0xa4, 0xb0, 0x4b, 0xab, 0x91}}
	mfMediaTypeVideo        = windows.GUID{Data1: 0x73646976, Data2: 0x0000, Data3: 0x0010, Data4: [8]byte{0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}}
	mfVideoFormatH264       = windows.GUID{Data1: 0x34363248, Data2: 0x0000, Data3: 0x0010, Data4: [8]byte{0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}}
)

const (
	mfVersion      = 0x00020070 // MF_SDK_VERSION << 16 | MF_API_VERSION
	mfStartupLite  = 1          // no sockets
	mftEnumFlagAll = 0x3f       // sync, async, hardware, field of use, local, transcode-only
	// IMFActivate's vtable: IUnknown (0–2), then IMFAttributes'
	// GetItem … GetAllocatedString (13).
	vtRelease            = 2
	vtGetAllocatedString = 13
)

// mftRegisterTypeInfo is MFT_REGISTER_TYPE_INFO.
type mftRegisterTypeInfo struct{ major, sub windows.GUID }

// probeMediaFoundation starts Media Foundation and returns the friendly
// names of the H.264 encoder transforms it enumerates (MFTEnumEx, every
// kind: software, hardware, asynchronous), or why it could not ask.
func probeMediaFoundation() ([]string, error) {
	return enumMFTs(&mftCategoryVideoEncoder, nil, &mftRegisterTypeInfo{major: mfMediaTypeVideo, sub: mfVideoFormatH264})
}

// enumMFTs returns the friendly names of the transforms of category that
// take in and give out (nil: any), every kind.
func enumMFTs(category *windows.GUID, in, out *mftRegisterTypeInfo) ([]string, error) {
	if err := mfplat.Load(); err != nil {
		return nil, fmt.Errorf("Media Foundation is not installed: %w", err)
	}
	if err := procMFTEnumEx.Find(); err != nil {
		return nil, fmt.Errorf("Media Foundation has no MFTEnumEx: %w", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := windows.CoInitializeEx(0, windows.COINIT_MULTITHREADED); err != nil && !errors.Is(err, syscall.Errno(1)) { // S_FALSE: already initialised
		return nil, fmt.Errorf("CoInitializeEx: %w", err)
	}
	defer windows.CoUninitialize()
	if hr, _, _ := procMFStartup.Call(mfVersion, mfStartupLite); hr != 0 {
		return nil, fmt.Errorf("MFStartup: HRESULT %#x", uint32(hr))
	}
	defer procMFShutdown.Call() //nolint:errcheck // nothing to do about a failed shutdown
	var list *unsafe.Pointer
	var n uint32
	hr := mftEnumEx(category, mftEnumFlagAll, in, out, &list, &n)
	if hr != 0 {
		return nil, fmt.Errorf("MFTEnumEx: HRESULT %#x", uint32(hr))
	}
	if list == nil || n == 0 {
		return nil, nil
	}
	defer windows.CoTaskMemFree(unsafe.Pointer(list))
	acts := unsafe.Slice(list, n)
	names := make([]string, 0, n)
	for _, a := range acts {
		names = append(names, friendlyName(a))
		syscall.SyscallN(method(a, vtRelease), uintptr(a)) //nolint:errcheck // Release returns a count
	}
	return names, nil
}

// friendlyName reads MFT_FRIENDLY_NAME_Attribute from an IMFActivate.
func friendlyName(act unsafe.Pointer) string {
	var p *uint16
	var n uint32
	// The pointers are converted in the call expression itself, so that
	// they stay valid for the call (unsafe.Pointer rule 4).
	if hr, _, _ := syscall.SyscallN(method(act, vtGetAllocatedString), uintptr(act),
		uintptr(unsafe.Pointer(&mftFriendlyName)), uintptr(unsafe.Pointer(&p)), uintptr(unsafe.Pointer(&n))); hr != 0 || p == nil {
		return "(unnamed)"
	}
	defer windows.CoTaskMemFree(unsafe.Pointer(p))
	return windows.UTF16PtrToString(p)
}

// method returns the address of method index i of the COM object obj.
func method(obj unsafe.Pointer, i int) uintptr {
	vtbl := *(*unsafe.Pointer)(obj)
	return *(*uintptr)(unsafe.Add(vtbl, uintptr(i)*unsafe.Sizeof(uintptr(0))))
}
