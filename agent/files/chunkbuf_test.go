//go:build unix

package files

import (
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
)

// TestChunkBuffersOutsideTheHeap: the chunk buffers an agent keeps
// between chunks do not count towards the Go heap (so they do not raise
// the garbage collector's goal), are used again, and are freed.
func TestChunkBuffersOutsideTheHeap(t *testing.T) {
	heap := func() uint64 {
		runtime.GC()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	us := newUploads()
	before := heap()
	var bufs [][]byte
	for range wire.MaxUploadsActive {
		b := us.buffer()
		for i := range b {
			b[i] = 1 // touched, as a chunk does
		}
		bufs = append(bufs, b)
	}
	if grew := int64(heap()) - int64(before); grew > wire.UploadChunk {
		t.Fatalf("%d chunk buffers grew the Go heap by %d bytes", len(bufs), grew)
	}
	for _, b := range bufs {
		us.release(b)
	}
	if b := us.buffer(); &b[0] != &bufs[len(bufs)-1][0] && &b[0] != &bufs[0][0] {
		t.Error("a released buffer was not used again")
	} else {
		us.release(b)
	}
	us.idle.Stop()
	us.freeBuffers()
	if n := len(us.free); n != 0 {
		t.Fatalf("%d buffers kept after freeing", n)
	}
	runtime.KeepAlive(bufs)
}
