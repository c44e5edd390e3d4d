package h264

import (
	"fmt"
	"testing"
	"time"
)

func TestExplore(t *testing.T) {
	const w, h, n = 1920, 1080, 90
	pix := make([]byte, w*h*4)
	tall := make([]byte, w*4*(h+8*n))
	drawScene(tall, w*4, w, h+8*n, 0, 0)
	for _, tu := range []tuning{
		{1, 1, 0, 150}, {1, 1, 0, 100}, {1, 1, 0, 200}, {1, 1, 0, 0}, {1, 1, 1, 150}, {1, 1, 2, 150},
		{2, 2, 0, 150}, {1, 2, 0, 150}, {2, 1, 0, 150}, {0, 0, 0, 150},
	} {
		for _, scene := range []string{"moving", "scroll"} {
			e, err := newEncoder(Options{Width: w, Height: h, FPS: 30, Bitrate: 4_000_000}, tu)
			if err != nil {
				t.Fatal(tu, err)
			}
			var total, skipped, idr int
			var enc time.Duration
			for i := range n {
				src := pix
				if scene == "moving" {
					drawScene(pix, w*4, w, h, i*4, 0)
				} else {
					src = tall[i*8*w*4:]
				}
				st := time.Now()
				au, err := e.Encode(src, w*4, false)
				enc += time.Since(st)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					idr = len(au)
					continue
				}
				if len(au) == 0 {
					skipped++
				}
				total += len(au)
			}
			fmt.Printf("%+v %s: idr=%d skipped=%d/%d kbps(after idr)=%d ms/frame=%.2f\n", tu, scene, idr, skipped, n-1,
				total*8*30/(n-1)/1000, float64(enc.Microseconds())/1000/n)
			e.Close()
		}
	}
}
