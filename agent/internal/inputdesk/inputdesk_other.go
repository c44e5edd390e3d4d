//go:build !windows

// Package inputdesk runs a function on the desktop that receives input;
// only Windows has more than one (see inputdesk_windows.go).
package inputdesk

// Run runs f: one desktop here.
func Run(f func() error) error { return f() }
