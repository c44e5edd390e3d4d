//go:build !unix

package files

// Chunk buffers on the Go heap where there are no anonymous mappings
// through x/sys/unix (Windows: VirtualAlloc would do; not measured yet).
func newChunkBuffer() []byte { return make([]byte, chunkBufferSize) }

func freeChunkBuffer([]byte) {}
