//go:build linux

package sessionhelper

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/wire"
)

// fullHD is a 1920x1080 screen that changes on every Next.
type fullHD struct{ pix []byte }

func (s *fullHD) Monitors() ([]wire.Monitor, error) {
	return []wire.Monitor{{Width: 1920, Height: 1080, Primary: true}}, nil
}
func (s *fullHD) Select(int) error { return nil }
func (s *fullHD) Next(context.Context) (screen.Frame, error) {
	s.pix[0]++
	return screen.Frame{Width: 1920, Height: 1080, Stride: 1920 * 4, Pix: s.pix, Time: time.Now()}, nil
}
func (s *fullHD) Grab() (screen.Frame, error) { return s.Next(context.Background()) }
func (s *fullHD) Close() error                { return nil }

// BenchmarkRemoteNext: one changed 1920x1080 BGRA frame (8.3 MB) from the
// helper to the service per op, over a unix socket (the pipe's stand-in
// off Windows): what the helper adds to a screen session's frame time.
func BenchmarkRemoteNext(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "bench.sock")
	ln, err := Listen(sock)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		served <- Serve(c, Desktop{OpenSource: func() (screen.Source, error) { return &fullHD{pix: make([]byte, 1920*1080*4)}, nil }})
	}()
	conn, err := Dial(context.Background(), sock)
	if err != nil {
		b.Fatal(err)
	}
	desk := NewRemote(nil)
	desk.Attach(conn)
	src, err := desk.OpenSource()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1920 * 1080 * 4)
	b.ReportAllocs()
	for b.Loop() {
		f, err := src.Next(context.Background())
		if err != nil || len(f.Pix) != 1920*1080*4 {
			b.Fatalf("Next: %d bytes, %v", len(f.Pix), err)
		}
	}
	b.StopTimer()
	src.Close()
	desk.Detach()
	<-served
}
