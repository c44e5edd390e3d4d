package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/viewer"
)

// BenchmarkFilesOverlay: 256 MiB up and down through the files capability
// over the overlay, agent and viewer in this process (scripts/bench.sh
// files measures the real binaries with 1 GiB against peerbench send).
func BenchmarkFilesOverlay(b *testing.B) {
	harness.Begin(b)
	c := harness.StartCoordinator(b)
	root := b.TempDir()
	a := c.EnrollAgent(b, "bench-files", func(cfg *agent.Config) { cfg.FilesRoot, cfg.Unattended = root, true })
	v := c.LoginViewer(b, c.AddTechnician(b, "alice"))
	f, err := v.Files(ctx(b), a.DeviceID())
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 256<<20)
	rand.Read(data) //nolint:errcheck // never fails
	// The first call brings the path up.
	if _, err := f.List(ctx(b), "/"); err != nil {
		b.Fatal(err)
	}
	b.Run("up", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := range b.N {
			if _, err := f.Upload(ctx(b), viewer.Upload{Path: fmt.Sprintf("/up-%d.bin", i), Size: int64(len(data)), Overwrite: true}, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("down", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for range b.N {
			if _, _, err := f.Download(ctx(b), viewer.Download{Path: "/up-0.bin"}, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}
