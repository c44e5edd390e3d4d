package h264

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// mftEnumEx calls MFTEnumEx. Its first argument is a GUID by value, which
// x64 passes by reference to a copy (it is larger than 8 bytes); category
// is not written to, so it is its own copy.
func mftEnumEx(category *windows.GUID, flags uint32, in, out *mftRegisterTypeInfo, list **unsafe.Pointer, n *uint32) uintptr {
	hr, _, _ := procMFTEnumEx.Call(uintptr(unsafe.Pointer(category)), uintptr(flags),
		uintptr(unsafe.Pointer(in)), uintptr(unsafe.Pointer(out)), uintptr(unsafe.Pointer(list)), uintptr(unsafe.Pointer(n)))
	return hr
}
