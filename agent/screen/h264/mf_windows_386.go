package h264

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// mftEnumEx calls MFTEnumEx. Its first argument is a GUID by value, which
// x86 (stdcall) pushes on the stack as four 32-bit words.
func mftEnumEx(category *windows.GUID, flags uint32, in, out *mftRegisterTypeInfo, list **unsafe.Pointer, n *uint32) uintptr {
	w := *(*[4]uint32)(unsafe.Pointer(category))
	hr, _, _ := procMFTEnumEx.Call(uintptr(w[0]), uintptr(w[1]), uintptr(w[2]), uintptr(w[3]), uintptr(flags),
		uintptr(unsafe.Pointer(in)), uintptr(unsafe.Pointer(out)), uintptr(unsafe.Pointer(list)), uintptr(unsafe.Pointer(n)))
	return hr
}
