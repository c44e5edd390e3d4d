//go:build !noopenh264

package h264

import (
	"fmt"
	"os"
	"sync"

	"github.com/peerdesk/peerdesk/agent/screen/h264/internal/wels"
)

// OpenH264 loaded at run time (package wels), for builds without cgo:
// the same encoder settings as the cgo build, with colour conversion in Go
// (convert.go) instead of libyuv.

// welsLibrary loads the library once per process. PEERDESK_OPENH264 names
// it; otherwise wels.DefaultLocation (next to the agent on Windows, the
// distribution's library elsewhere).
var welsLibrary = sync.OnceValues(func() (*wels.Library, error) {
	path := os.Getenv("PEERDESK_OPENH264")
	if path == "" {
		path = wels.DefaultLocation()
	}
	return wels.Open(path)
})

type welsBackend struct {
	enc     *wels.Encoder
	w, h    int
	version string
	passed  []string // why preferred implementations were passed over
}

func openWels(o Options, t tuning) (backend, error) {
	L, err := welsLibrary()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	usage := wels.UsageScreen
	if o.Content == Camera {
		usage = wels.UsageCamera
	}
	enc, err := L.NewEncoder(wels.Params{
		Width: o.Width, Height: o.Height, FPS: o.FPS, Bitrate: o.Bitrate, KeyInterval: o.KeyInterval,
		Usage: usage, Threads: t.threads, Slices: t.slices, Complexity: t.complexity,
	})
	if err != nil {
		return nil, fmt.Errorf("OpenH264 %s initialisation: %w", L.Version, err)
	}
	return &welsBackend{enc: enc, w: o.Width, h: o.Height, version: L.Version}, nil
}

func (b *welsBackend) encode(pix []byte, stride int, idr bool, ts int64) (int, []byte, error) {
	bgraToI420Go(b.enc.Picture(), pix, stride, b.w, b.h)
	return b.enc.Encode(idr, ts)
}

func (b *welsBackend) setBitrate(old, bps int) error { return b.enc.SetBitrate(old, bps) }

func (b *welsBackend) choice() Choice {
	return Choice{Implementation: OpenH264, Detail: b.version, PassedOver: b.passed}
}

func (b *welsBackend) close() { b.enc.Close() }
