package sessionhelper

import (
	"context"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/wire"
)

// paintedSource is a 4x2 screen filled with one byte value.
type paintedSource byte

func (p paintedSource) Monitors() ([]wire.Monitor, error) {
	return []wire.Monitor{{Index: 0, Name: "test", Width: 4, Height: 2, Primary: true}}, nil
}
func (p paintedSource) Select(int) error { return nil }
func (p paintedSource) Next(ctx context.Context) (screen.Frame, error) {
	<-ctx.Done() // nothing ever changes
	return screen.Frame{}, ctx.Err()
}
func (p paintedSource) Grab() (screen.Frame, error) {
	pix := make([]byte, 4*2*4)
	for i := range pix {
		pix[i] = byte(p)
	}
	return screen.Frame{Width: 4, Height: 2, Stride: 16, Pix: pix, Time: time.Now()}, nil
}
func (p paintedSource) Close() error { return nil }

// servesSession reports whether the desk reaches the helper of session n.
func servesSession(d *Remote, n byte) bool {
	src, err := d.OpenSource()
	if err != nil {
		return false
	}
	defer src.Close()
	f, err := src.Grab()
	return err == nil && len(f.Pix) == 32 && f.Pix[0] == n
}
