//go:build unix

package files

import "golang.org/x/sys/unix"

// Chunk buffers come from anonymous mappings, outside the Go heap: on
// the heap two 4 MiB buffers kept between chunks were live data, and the
// garbage collector let the heap grow twice as much again before it
// collected (an agent's resident set grew by 16 MB more than the buffers
// during an upload; docs/BENCHMARKS.md). Freed buffers are unmapped.
func newChunkBuffer() []byte {
	b, err := unix.Mmap(-1, 0, chunkBufferSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, chunkBufferSize)
	}
	return b
}

func freeChunkBuffer(b []byte) {
	unix.Munmap(b) //nolint:errcheck // a buffer from make fails here and the GC takes it
}
