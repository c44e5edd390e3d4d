//go:build noopenh264

package h264

// defaultBackend is nil with the noopenh264 tag: this build has no H.264
// encoder, and NewEncoder fails with ErrUnsupported after validating its
// options, so that a configuration bug is not mistaken for a missing
// platform feature.
var defaultBackend func(Options, tuning) (backend, error)
