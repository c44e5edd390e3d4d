//go:build !android && !ios && !windows && !js && !wasip1 && !plan9

/* peerdesk: message buffers outside the Go heap. */

package device

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Message buffers are 64 KiB each (MaxSegmentSize: tailscale's netstack
// copies a whole segmented packet into the first buffer of a read), but
// most carry one packet of about 1.3 KB. On the Go heap every buffer
// counts in full towards the garbage collector's goal, and a buffer that
// the heap hands out again is zeroed in full first, so a bulk transfer's
// buffers and the garbage they let the heap keep made a node's resident
// set grow by 100 MB and more. Here they are carved from anonymous
// mappings: only the pages a packet touched are resident, the GC neither
// counts nor scans them, and they are never zeroed again. They are never
// unmapped either: the pool is bounded (PreallocatedBuffersPerPool) and
// keeps them on its free list; releaseMessageBuffer drops their pages.
const msgSlab = 64 // buffers per mapping

var msgSlabs struct {
	sync.Mutex
	next []*[MaxMessageSize]byte
}

func newMessageBuffer() *[MaxMessageSize]byte {
	msgSlabs.Lock()
	defer msgSlabs.Unlock()
	if len(msgSlabs.next) == 0 {
		m, err := unix.Mmap(-1, 0, msgSlab*MaxMessageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			return new([MaxMessageSize]byte)
		}
		for i := 0; i < msgSlab; i++ {
			msgSlabs.next = append(msgSlabs.next, (*[MaxMessageSize]byte)(unsafe.Pointer(&m[i*MaxMessageSize])))
		}
	}
	b := msgSlabs.next[len(msgSlabs.next)-1]
	msgSlabs.next = msgSlabs.next[:len(msgSlabs.next)-1]
	return b
}

// releaseMessageBuffer hands a free buffer's pages back to the system; it
// stays mapped and reads as zeros until written again.
func releaseMessageBuffer(x any) {
	b := x.(*[MaxMessageSize]byte)
	// Page-aligned only where the buffer starts on a page: MaxMessageSize
	// is not a multiple of the page size, so trim to whole pages inside.
	start := uintptr(unsafe.Pointer(b))
	page := uintptr(unix.Getpagesize())
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + MaxMessageSize) &^ (page - 1)
	if hi <= lo {
		return
	}
	unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(b), lo-start)), hi-lo), unix.MADV_DONTNEED) //nolint:errcheck // advice
}
