//go:build !noopenh264 && !(cgo && (linux || darwin))

package h264

// defaultBackend loads OpenH264 at run time: the Windows agent (built
// without cgo) and Linux or macOS builds without cgo.
var defaultBackend = openWels
