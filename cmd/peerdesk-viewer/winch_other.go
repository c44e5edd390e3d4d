//go:build !unix

package main

// followSize does not follow the console's size here (no SIGWINCH): the
// remote terminal keeps the size it started with.
func followSize(int, func(cols, rows int)) (stop func()) { return func() {} }
