//go:build android || ios || windows || js || wasip1 || plan9

package device

func newMessageBuffer() *[MaxMessageSize]byte { return new([MaxMessageSize]byte) }

var releaseMessageBuffer func(any)
