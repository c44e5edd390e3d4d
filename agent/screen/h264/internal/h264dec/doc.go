// Package h264dec wraps OpenH264's decoder so that the h264 package's tests
// can check what its encoder produces. It is a test helper: production code
// must not import it (the agent never decodes H.264, and nothing here is
// hardened for untrusted input). It needs cgo and OpenH264, like the
// encoder; in other builds it is empty.
package h264dec
