package h264

import (
	"image"
	"image/png"
	"os"
	"testing"
)

func TestDump(t *testing.T) {
	const w, h = 1920, 1080
	pix := make([]byte, w*h*4)
	drawScene(pix, w*4, w, h, 40, 0)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = pix[i+2], pix[i+1], pix[i], 255
	}
	f, _ := os.Create("/tmp/scene.png")
	png.Encode(f, img.SubImage(image.Rect(200, 200, 900, 600)))
	f.Close()
}
