package h264

// bgraToI420Go converts the top-left w x h pixels of a BGRA frame into dst
// (I420: Y with stride w, then U and V with stride w/2), with libyuv's
// ARGBToI420 arithmetic as its x86 SIMD rows do it (BT.601, studio range;
// chroma from the rounded average of each 2x2 block), so that both builds
// encode the same pictures (TestBGRAToI420Go compares them byte for
// byte). w and h are even, dst and pix large enough (Encode checked). It is
// the conversion of builds without cgo, where libyuv is not linked: ~4 ms
// a 1080p frame, 20x libyuv's SIMD (BenchmarkBGRAToI420_1080p), 12 % of a
// core at 30 fps. Written here because no pure-Go package does this
// conversion faster (image/color's RGBToYCbCr is per pixel and full range).
func bgraToI420Go(dst, pix []byte, stride, w, h int) {
	cw := w / 2
	yp := dst[:w*h]
	up := dst[w*h : w*h+cw*(h/2)]
	vp := dst[w*h+cw*(h/2) : w*h+2*cw*(h/2)]
	for y := 0; y < h; y += 2 {
		r0 := pix[y*stride : y*stride+w*4]
		r1 := pix[(y+1)*stride : (y+1)*stride+w*4]
		y0 := yp[y*w : y*w+w]
		y1 := yp[(y+1)*w : (y+1)*w+w]
		u := up[(y/2)*cw : (y/2)*cw+cw]
		v := vp[(y/2)*cw : (y/2)*cw+cw]
		for x := range cw {
			i := x * 8
			a, b := r0[i:i+8:i+8], r1[i:i+8:i+8]
			b00, g00, r00 := int(a[0]), int(a[1]), int(a[2])
			b01, g01, r01 := int(a[4]), int(a[5]), int(a[6])
			b10, g10, r10 := int(b[0]), int(b[1]), int(b[2])
			b11, g11, r11 := int(b[4]), int(b[5]), int(b[6])
			y0[2*x] = luma(r00, g00, b00)
			y0[2*x+1] = luma(r01, g01, b01)
			y1[2*x] = luma(r10, g10, b10)
			y1[2*x+1] = luma(r11, g11, b11)
			// libyuv averages the two rows, then the two columns, each
			// rounding up.
			rb := (((r00 + r10 + 1) >> 1) + ((r01 + r11 + 1) >> 1) + 1) >> 1
			gb := (((g00 + g10 + 1) >> 1) + ((g01 + g11 + 1) >> 1) + 1) >> 1
			bb := (((b00 + b10 + 1) >> 1) + ((b01 + b11 + 1) >> 1) + 1) >> 1
			// and, like its AVX2 rows, truncates before adding 128.
			u[x] = byte((112*bb-74*gb-38*rb)>>8 + 128)
			v[x] = byte((112*rb-94*gb-18*bb)>>8 + 128)
		}
	}
}

func luma(r, g, b int) byte { return byte((66*r + 129*g + 25*b + 0x1080) >> 8) }
