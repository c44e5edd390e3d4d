//go:build !race

package util

// RaceEnabled is true when the race detector is active.
const RaceEnabled = false
