//go:build !noopenh264 && !(cgo && (linux || darwin)) && !windows

package h264

// defaultBackend loads OpenH264 at run time: Linux or macOS builds without
// cgo (Windows chooses between Media Foundation and OpenH264 in
// encoder_windows.go).
var defaultBackend = openWels
