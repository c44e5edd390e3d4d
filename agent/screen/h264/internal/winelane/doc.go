// Package winelane holds one test and no code: the Windows H.264 encoder,
// cross-compiled with its package's tests and run under Wine on Xvfb (the
// Windows test lane, harness/wine) with the OpenH264 DLL built from
// Debian's source, encodes what GDI captured of a real Win32 window; the
// test decodes that stream here on Linux with the repo's decoder
// (internal/h264dec) and checks the pixels. It lives under
// agent/screen/h264 because the decoder is internal there.
package winelane
