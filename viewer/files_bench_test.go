package viewer

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
)

// BenchmarkUpload: a 64 MiB upload to agent/files on disk over loopback
// TCP (no overlay), one chunk at a time and with the default window: what
// overlapping the next chunk with the agent's write and sync is worth.
func BenchmarkUpload(b *testing.B) {
	root := b.TempDir()
	srv, _ := agentAt(b, root)
	data := make([]byte, 16*wire.UploadChunk)
	rand.Read(data) //nolint:errcheck // never fails
	for _, window := range []int{1, 2} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			f := &Files{HTTP: &http.Client{Transport: &http.Transport{}}, Base: srv.URL, Grant: "g", Window: window}
			b.SetBytes(int64(len(data)))
			for i := range b.N {
				if _, err := f.Upload(context.Background(), Upload{Path: fmt.Sprintf("/b-%d-%d.bin", window, i), Size: int64(len(data)), Overwrite: true}, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
